// Correction burden (researchers, admins): GET /api/v1/corrections/burden, one card per model version
// with the share signed unchanged, the text's edit distance, and per finding how often the draft's
// state was accepted, added, removed or changed; for an admin, the retraining panel (retrain.js).
// All text goes in through textContent (el()).
import { api, clearSession, currentUser, el, getToken, request, setSession } from "./api.js";
import { startRetrainPanel, stopRetrainPanel } from "./retrain.js";

const $ = (id) => document.getElementById(id);
const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

function showLogin() {
  $("login-view").hidden = false;
  $("burden-view").hidden = true;
  $("session").hidden = true;
}

function versionCard(v) {
  const rows = v.findings.map((f) =>
    el("tr", { class: f.acceptance_rate !== null && f.acceptance_rate < 0.5 ? "low-acceptance" : "" },
      el("td", {}, f.label),
      el("td", { class: "num" }, f.drafted),
      el("td", { class: "num" }, f.accepted),
      el("td", { class: "num rate" }, pct(f.acceptance_rate)),
      el("td", { class: "num" }, f.added),
      el("td", { class: "num" }, f.removed),
      el("td", { class: "num" }, f.changed)));
  const d = v.text_edit_distance;
  return el("article", { class: "version-card", dataset: { version: v.model_version } },
    el("h2", {}, `Model ${v.model_version}`),
    el("p", { class: "version-summary muted" },
      `${v.reports} signed reports · ${pct(v.unchanged_rate)} signed unchanged · text edits: `
      + `${d.mean_words} words on average (median ${d.median_words}, ${pct(d.mean_per_word)} of the words)`),
    el("table", { class: "burden" },
      el("thead", {}, el("tr", {}, ["Finding", "Drafted", "Accepted", "Acceptance", "Added", "Removed",
        "Side/severity changed"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}

async function load() {
  const version = $("version").value;
  const query = version ? `?model_version=${encodeURIComponent(version)}` : "";
  $("burden-error").textContent = "";
  try {
    const data = await request(`corrections/burden${query}`);
    $("versions").replaceChildren(...data.versions.map(versionCard));
    $("burden-empty").hidden = data.versions.length > 0;
    if (!version) {
      const select = $("version");
      const known = new Set([...select.options].map((o) => o.value));
      for (const v of data.versions) if (!known.has(v.model_version)) select.append(el("option", {}, v.model_version));
    }
  } catch (error) {
    $("burden-error").textContent = error.message;
  }
}

function showBurden() {
  $("login-view").hidden = true;
  $("burden-view").hidden = false;
  $("session").hidden = false;
  const user = currentUser();
  $("user-chip").textContent = user ? `${user.username} (${user.role})` : "";
  load();
  if (user && user.role === "admin") startRetrainPanel();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const result = await api.login($("username").value, $("password").value);
    setSession(result.access_token, result.user);
    showBurden();
  } catch (error) {
    $("login-error").textContent = error.message;
  }
});
$("logout").addEventListener("click", async () => {
  try { await api.logout(); } catch { /* the session may have ended already */ }
  clearSession();
  stopRetrainPanel();
  showLogin();
});
$("version").addEventListener("change", load);

if (getToken()) showBurden(); else showLogin();
