// Login and worklist page: critical studies first (server order) or most uncertain first (order=uncertainty),
// filters, search, keyboard navigation.

import {
  ApiError, STATUS_LABELS, STUDY_STATUSES, api, clearSession, currentUser, el, fmtDate, getToken, setSession, statusLabelsReady,
} from "./api.js";
import { installShortcuts, toast } from "./keyboard.js";
import { showSsoButton, takeSsoReturn } from "./sso.js";

const $ = (id) => document.getElementById(id);
const ORDER_KEY = "medvlm.worklist.order";
const FILTER_KEY = "medvlm.worklist.filters";
const PAGE_SIZE = 50;
let page = 1;
let items = [];
let selected = 0;
let refreshTimer = null;

function studyUid(s) {
  return s.study_instance_uid || s.study_uid || s.uid;
}

function showLogin() {
  $("login-view").hidden = false;
  $("worklist-view").hidden = true;
  $("session").hidden = true;
  $("username").focus();
  showSsoButton($("sso"), $("sso-login"));
}

async function login(event) {
  event.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  $("login-error").textContent = "";
  if (!username || !password) {
    $("login-error").textContent = "Enter your username and password.";
    return;
  }
  $("login-submit").disabled = true;
  try {
    const result = await api.login(username, password);
    setSession(result.access_token, result.user || { username });
    const next = new URLSearchParams(location.search).get("next");
    if (next && next.startsWith("/review/")) {
      location.assign(next);
      return;
    }
    history.replaceState(null, "", "/");
    showWorklist();
  } catch (error) {
    $("login-error").textContent = error instanceof ApiError && error.status === 401
      ? "Wrong username or password." : `Sign-in failed: ${error.message}`;
  } finally {
    $("login-submit").disabled = false;
  }
}

function showWorklist() {
  $("login-view").hidden = true;
  $("worklist-view").hidden = false;
  $("session").hidden = false;
  const user = currentUser();
  $("user-chip").textContent = user ? `${user.username}${user.role ? ` · ${user.role}` : ""}` : "";
  statusLabelsReady.then(() => {
    fillStatusFilter();
    restoreFilters();
    load();
  });
}

// The status filter's choices are the server's study statuses, in worklist order.
function fillStatusFilter() {
  const select = $("status");
  if (select.options.length > 1) return;
  for (const status of STUDY_STATUSES) select.append(el("option", { value: status }, STATUS_LABELS[status] || status));
}

function filters() {
  const form = new FormData($("filters"));
  const params = {};
  for (const [key, value] of form) if (value) params[key] = value;
  return params;
}

function restoreFilters() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(FILTER_KEY) || "{}");
    for (const [key, value] of Object.entries(saved)) if ($(key)) $(key).value = value;
  } catch {
    /* no saved filters */
  }
}

async function load() {
  const params = filters();
  sessionStorage.setItem(FILTER_KEY, JSON.stringify(params));
  let result;
  try {
    result = await api.studies({ ...params, page, page_size: PAGE_SIZE });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) toast(`Could not load the worklist: ${error.message}`, "error");
    return;
  }
  items = result.items || [];
  const total = result.total ?? items.length;
  sessionStorage.setItem(ORDER_KEY, JSON.stringify(items.map(studyUid)));
  $("worklist-count").textContent = `${total} stud${total === 1 ? "y" : "ies"}`;
  const pages = Math.max(1, Math.ceil(total / (result.page_size || PAGE_SIZE)));
  $("page-info").textContent = `Page ${page} of ${pages}`;
  $("page-prev").disabled = page <= 1;
  $("page-next").disabled = page >= pages;
  selected = Math.min(selected, Math.max(0, items.length - 1));
  render();
  clearTimeout(refreshTimer);
  // Drafts finish in the background: poll while any study is still being drafted.
  if (items.some((s) => ["received", "drafting"].includes(s.status))) refreshTimer = setTimeout(load, 5000);
}

function statusBadge(status) {
  return el("span", { class: `badge status-${status || "unknown"}` }, STATUS_LABELS[status] || status || "—");
}

// Why a study has no draft: the gate's reason (outside intended use) or the job's last error (a failure).
function statusCell(s) {
  const cell = [statusBadge(s.status)];
  if (s.unvalidated_model) {
    cell.push(el("span", { class: "badge badge-warn badge-unvalidated", title: `Drafted by ${s.model_version}: a model that has not passed the promotion floors` }, "Unvalidated model"));
  }
  if (s.outside_intended_use) {
    cell.push(el("span", { class: "badge badge-override", title: "The intended-use gate refused this study; a radiologist asked for a draft anyway" }, "Outside intended use — drafted on request"));
  }
  if (s.unfamiliar_film) {
    cell.push(el("span", { class: "badge badge-warn badge-unfamiliar", title: "The film is unlike the films the model was trained on: read it without leaning on the draft" }, "Unfamiliar film"));
  }
  if (s.status_reason && ["not_drafted", "failed"].includes(s.status)) {
    const text = s.status === "not_drafted" ? `Outside intended use: ${s.status_reason.replace(/^outside intended use:\s*/i, "")}` : `Failed: ${s.status_reason}`;
    cell.push(el("div", { class: `status-reason reason-${s.status}`, title: text }, text));
  }
  return cell;
}

// The views the gate accepted: the frontal read, then a lateral as the second view.
function viewsText(s) {
  const views = s.views || [];
  if (!views.length) return "";
  return views.map((v) => (v.kind === "lateral" ? `lateral${v.view_position ? ` (${v.view_position})` : ""}`
    : `${v.view_position || "frontal"}`)).join(" + ");
}

function modalityCell(s) {
  const modality = s.modality || (s.modalities || []).join("/") || "—";
  const views = viewsText(s);
  return views ? [modality, el("div", { class: "views muted", title: "Views read: the frontal, and a lateral as the second view" }, views)] : [modality];
}

function render() {
  const body = $("worklist-body");
  body.replaceChildren(
    ...items.map((s, i) => {
      const critical = Boolean(s.critical || s.has_critical);
      const names = (s.critical_findings || []).join(", ");
      const row = el(
        "tr",
        {
          tabindex: i === selected ? "0" : "-1",
          class: `${critical ? "is-critical" : ""}${i === selected ? " is-selected" : ""}`,
          "aria-selected": i === selected ? "true" : "false",
          dataset: { uid: studyUid(s), index: String(i) },
          onclick: () => open(i),
          onfocus: () => select(i, false),
        },
        el("td", { class: "col-priority" }, critical ? el("span", { class: "badge badge-critical", title: names ? `Critical: ${names}` : "Critical finding" }, "Critical") : el("span", { class: "muted" }, "Routine")),
        el("td", { class: "col-status" }, ...statusCell(s)),
        el("td", { class: "patient-name" }, (s.patient_name || "—").replace(/\^/g, " ").trim()),
        el("td", { class: "mono" }, s.patient_id || "—"),
        el("td", { class: "mono" }, s.accession_number || "—"),
        el("td", { class: "col-modality" }, ...modalityCell(s)),
        el("td", { class: "mono" }, fmtDate(s.study_date || s.created_at)),
        el("td", { class: "desc" }, s.study_description || s.description || ""),
      );
      return row;
    }),
  );
  $("worklist-empty").hidden = items.length > 0;
}

function select(index, focus = true) {
  if (!items.length) return;
  selected = Math.max(0, Math.min(items.length - 1, index));
  for (const row of $("worklist-body").rows) {
    const on = Number(row.dataset.index) === selected;
    row.classList.toggle("is-selected", on);
    row.setAttribute("aria-selected", on ? "true" : "false");
    row.tabIndex = on ? 0 : -1;
    if (on && focus) row.focus();
  }
}

function open(index) {
  const study = items[index];
  if (!study) return;
  location.assign(`/review/${encodeURIComponent(studyUid(study))}`);
}

function init() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", async () => {
    try { await api.logout(); } catch { /* the session is ended locally anyway */ }
    clearSession();
    showLogin();
  });
  let searchTimer = null;
  $("filters").addEventListener("input", (event) => {
    page = 1;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(load, event.target.id === "q" ? 250 : 0);
  });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("clear-filters").addEventListener("click", () => { $("filters").reset(); page = 1; load(); });
  $("page-prev").addEventListener("click", () => { page -= 1; load(); });
  $("page-next").addEventListener("click", () => { page += 1; load(); });
  const onList = () => !$("worklist-view").hidden;
  const shortcuts = installShortcuts([
    { keys: ["ArrowDown", "j"], label: "Next study in the list", run: () => onList() && select(selected + 1) },
    { keys: ["ArrowUp", "k"], label: "Previous study in the list", run: () => onList() && select(selected - 1) },
    { keys: ["Enter", "o"], label: "Open the selected study",
      run: (e) => onList() && (e.target === document.body || Boolean(e.target.closest("#worklist-body"))) && open(selected) !== false },
    { keys: ["/"], label: "Search by accession or patient ID", run: () => onList() && $("q").focus() },
    { keys: ["r"], label: "Refresh the worklist", run: () => onList() && load() },
  ]);
  $("help-button").addEventListener("click", () => shortcuts.toggleHelp(true));
  const sso = takeSsoReturn();
  if (getToken()) {
    showWorklist();
    return;
  }
  showLogin();
  if (sso.error) $("login-error").textContent = `Single sign-on failed: ${sso.error}`;
}

init();
