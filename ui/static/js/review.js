// Review page: wires the viewer, the findings panel and the draft editor to the API, and runs sign-off.

import { ApiError, STATUS_LABELS, api, currentUser, el, fmtDate, getToken, statusLabelsReady, toLogin } from "./api.js";
import { DraftEditor } from "./editor.js";
import { FindingsPanel } from "./findings.js";
import { hideOverride, offerOverride } from "./override.js";
import { loadPriors } from "./priors.js";
import { installShortcuts, toast } from "./keyboard.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const ORDER_KEY = "medvlm.worklist.order";
const studyUid = decodeURIComponent(location.pathname.replace(/^\/review\//, "").replace(/\/$/, ""));
let study = null;
let report = null;
// Ask for the study and its draft before anything else is set up: the first image waits on the study.
const studyTask = getToken() ? api.study(studyUid) : null;
const reportTask = getToken() ? loadReport() : null;

if (!getToken()) toLogin(); // the page needs a session; the login page brings the user back here

const viewer = new Viewer($("viewer"), {
  onChange: (s) => {
    $("overlay-wl").textContent = s.error ? `Window/level unavailable: ${s.error}` : s.ready
      ? `W ${Math.round(s.width)}  L ${Math.round(s.center)}${s.inverted ? "  · inverted" : ""}  · ${Math.round(s.zoom * 100 / (window.devicePixelRatio || 1))}%`
      : "Loading full-resolution values…";
    $("invert").setAttribute("aria-pressed", s.inverted ? "true" : "false");
  },
  onPixel: (p) => {
    $("overlay-pixel").textContent = !p ? "" : p.value === null ? `(${p.x}, ${p.y})`
      : `(${p.x}, ${p.y})  ${Number.isInteger(p.value) ? p.value : p.value.toFixed(1)}${p.stored !== p.value ? `  [stored ${p.stored}]` : ""}`;
  },
});

const findings = new FindingsPanel($("findings-panel"), {
  onChange: () => {
    summarizeFindings();
    editor.changed({ findings: true });
  },
  onRegenerate: (list) => regenerate(list),
});

const editor = new DraftEditor(
  {
    findingsText: $("draft-findings"),
    impression: $("draft-impression"),
    status: $("save-state"),
    flags: { findings_text: $("flags-findings"), impression: $("flags-impression"), other: $("flags-other") },
    diff: $("diff"),
    banner: $("local-banner"),
  },
  { getFindings: () => findings.value(), onSaved: (saved) => { report = { ...report, ...saved }; renderStatus(); } },
);

window.__medvlm = { viewer, editor, findings };

// -- loading ---------------------------------------------------------------------------------------

// Every image of the study, radiographs (CR/DX) first, in series then instance order: a chest study is
// often a PA and a lateral film, and the draft was written from all of them.
function studyImages(detail) {
  const isFilm = (s) => (["CR", "DX"].includes(s.modality) ? 0 : 1);
  const series = [...(detail.series || [])].sort((a, b) => isFilm(a) - isFilm(b));
  return series.flatMap((s) =>
    [...(s.instances || [])]
      .sort((a, b) => (a.instance_number ?? 0) - (b.instance_number ?? 0))
      .map((instance) => ({ instance, modality: s.modality, label: [s.modality, s.description].filter(Boolean).join(" ") })),
  );
}

function renderImageStrip(images) {
  const strip = $("image-strip");
  strip.hidden = images.length < 2;
  if (strip.hidden) return;
  const thumbs = [];
  const buttons = images.map((image, i) => {
    const thumb = el("img", { alt: "", width: 72, height: 72 });
    thumbs.push([thumb, image.instance.sop_instance_uid]);
    const button = el("button", { type: "button", class: "thumb", title: `Image ${i + 1} of ${images.length}: ${image.label}` },
      [thumb, el("span", {}, `${i + 1} · ${image.label}`)]);
    button.addEventListener("click", () => showImage(images, i));
    return button;
  });
  strip.replaceChildren(...buttons);
  markCurrentImage(0);
  // Thumbnails wait for the first image (or a second), so they never slow down what is read first.
  let fetched = false;
  const fetchThumbs = () => {
    if (fetched) return;
    fetched = true;
    for (const [thumb, sop] of thumbs) {
      api.framePng(sop, 0, { max_size: 96 })
        .then((blob) => { thumb.src = URL.createObjectURL(blob); })
        .catch(() => { thumb.alt = "no preview"; });
    }
  };
  $("viewer").addEventListener("firstimage", fetchThumbs, { once: true });
  setTimeout(fetchThumbs, 1000);
}

function markCurrentImage(index) {
  for (const [i, button] of [...$("image-strip").children].entries()) {
    if (i === index) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

async function showImage(images, index) {
  markCurrentImage(index);
  await loadImage(images[index]);
}

// The views the intended-use gate accepted: the frontal the draft is read from, a lateral as the second view.
function viewsText(views) {
  if (!views || !views.length) return "";
  return "Views: " + views.map((v) => (v.kind === "lateral" ? `lateral ${v.view_position} (second view)`.replace("  ", " ")
    : `${v.view_position || "frontal"} (frontal, read)`)).join(" + ");
}

function renderStudy(detail) {
  const patient = detail.patient || {};
  const name = (patient.name || patient.patient_name || detail.patient_name || "Unknown patient").replace(/\^/g, " ").trim();
  const pid = patient.patient_id || detail.patient_id || "";
  const parts = [pid && `ID ${pid}`, detail.accession_number && `Acc ${detail.accession_number}`,
    fmtDate(detail.study_date), detail.study_description || detail.description, viewsText(detail.views)].filter(Boolean);
  $("patient-name").textContent = name;
  $("patient-meta").textContent = parts.join(" · ");
  document.title = `MedVLM · ${name}`;
  const images = studyImages(detail);
  const first = images[0];
  $("overlay-tl").replaceChildren(
    el("div", {}, name), el("div", {}, pid), el("div", {}, [first?.modality, fmtDate(detail.study_date)].filter(Boolean).join(" · ")),
  );
  renderImageStrip(images);
  return images;
}

async function loadImage(first) {
  if (!first) {
    showViewerMessage("This study has no images.");
    return;
  }
  showViewerMessage("Loading image…");
  $("viewer").addEventListener("firstimage", () => showViewerMessage(""), { once: true });
  try {
    await viewer.load(first.instance, first.modality);
  } catch (error) {
    showViewerMessage(`Could not load the image: ${error.message}`);
  }
}

function showViewerMessage(text) {
  $("viewer-message").textContent = text;
  $("viewer-message").hidden = !text;
}

async function loadReport() {
  try {
    return await api.report(studyUid);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

async function waitForDraft() {
  $("save-state").textContent = "Waiting for the AI draft…";
  for (;;) {
    const found = await loadReport();
    if (found) return found;
    let state = "";
    let reason = "";
    try {
      const jobs = await api.jobs(studyUid);
      const list = jobs.items || jobs;
      state = list?.[0]?.state || list?.[0]?.status || "";
      reason = list?.[0]?.last_error || "";
    } catch {
      /* jobs are informative only */
    }
    // A study outside intended use is not drafted: say why ("not drafted: outside intended use: ..."), and
    // offer a radiologist the audited override; then wait for that draft.
    const refused = state === "failed" && reason.startsWith("not drafted:");
    const failed = refused ? `No AI draft: ${reason.slice(13)}` : `Drafting failed${reason ? `: ${reason}` : ""}.`;
    $("save-state").textContent = state === "failed" ? failed : `AI draft in progress${state ? ` (${state})` : ""}…`;
    if (refused) {
      await offerOverride(studyUid, reason.slice(13));
      $("save-state").textContent = "AI draft requested…";
      continue;
    }
    if (state === "failed") return null;
    await new Promise((resolve) => setTimeout(resolve, 2500));
  }
}

function applyReport(next) {
  report = next;
  if (next) hideOverride();
  findings.load(report.findings || []);
  editor.load(report);
  summarizeFindings();
  renderStatus();
}

function summarizeFindings() {
  const list = findings.value();
  const present = list.filter((f) => f.presence === "present");
  const critical = present.filter((f) => f.critical);
  $("findings-summary").textContent = `${present.length} present${critical.length ? ` · ${critical.length} critical` : ""}`;
}

function renderStatus() {
  if (!report) return;
  const signed = report.status === "signed";
  const status = $("report-status");
  status.className = `badge status-${report.status}`;
  status.textContent = STATUS_LABELS[report.status] || report.status;
  const version = report.model_version || "unknown";
  $("model-version").textContent = `model ${version}`;
  $("banner-model").textContent = version;
  $("ai-label").textContent = signed ? "AI-assisted · signed" : "AI draft";
  $("ai-label").classList.toggle("is-signed", signed);
  $("ai-banner").hidden = signed;
  // A draft a radiologist asked for outside intended use says so at the top, not only among the flags.
  const outside = (report.consistency_flags || []).find((f) => f.kind === "intended_use");
  $("intended-use-banner").hidden = !outside;
  $("intended-use-banner").textContent = outside ? outside.message : "";
  // So does a draft on a film unlike the model's training films: its findings are not to be leaned on.
  const unfamiliar = (report.consistency_flags || []).find((f) => f.kind === "unfamiliar_film");
  $("unfamiliar-banner").hidden = !unfamiliar;
  $("unfamiliar-banner").textContent = unfamiliar ? unfamiliar.message : "";
  $("sign-button").disabled = signed;
  $("sign-button").hidden = signed;
  $("signed-panel").hidden = !signed;
  $("signed-banner").hidden = !signed;
  if (signed) {
    $("signed-banner").textContent = `Signed by ${report.signed_by || "?"} on ${fmtDate(report.signed_at)}. Final and read-only; add an addendum for changes. Drafted with model ${version}.`;
    findings.setReadOnly(true);
    editor.setReadOnly(true);
    $("addenda").replaceChildren(...(report.addenda || []).map((a) =>
      el("li", {}, el("div", { class: "addendum-meta" }, `${a.author || ""} · ${fmtDate(a.created_at)}`), el("p", {}, a.text))));
    if (!(report.addenda || []).length) $("addenda").append(el("li", { class: "muted" }, "No addenda."));
  }
}

// -- actions ---------------------------------------------------------------------------------------

async function regenerate(list) {
  const button = $("regenerate");
  button.disabled = true;
  button.textContent = "Regenerating…";
  try {
    await editor.flush();
    const result = await api.regenerate(report.id, list, editor.version);
    if (result && result.version !== undefined && result.id) {
      applyReport({ ...report, ...result });
    } else {
      editor.replaceText(result.findings_text, result.impression);
      if (result.consistency_flags) editor.renderFlags(result.consistency_flags);
    }
    toast("Draft regenerated from the findings.");
  } catch (error) {
    toast(`Could not regenerate: ${error.message}`, "error");
  } finally {
    const again = $("regenerate");
    if (again) {
      again.disabled = report?.status === "signed";
      again.textContent = "Regenerate draft from findings";
    }
  }
}

function openSignDialog() {
  if (!report || report.status === "signed") return;
  const user = currentUser();
  const present = findings.value().filter((f) => f.presence === "present");
  const critical = present.filter((f) => f.critical).map((f) => f.label.replace(/_/g, " "));
  const flags = report.consistency_flags || [];
  // replaceChildren turns a null argument into the text "null": leave absent parts out.
  $("sign-summary").replaceChildren(...[
    el("span", {}, `You are signing as ${user?.username || "the current user"}. `),
    el("span", {}, `${present.length} finding${present.length === 1 ? "" : "s"} present`),
    critical.length ? el("strong", { class: "text-critical" }, ` · critical: ${critical.join(", ")}`) : null,
    el("span", {}, `. Drafted by model ${report.model_version || "unknown"}.`),
    flags.length ? el("strong", { class: "sign-open-flags" },
      ` ${flags.length} open consistency flag${flags.length === 1 ? "" : "s"}: `
      + flags.map((f) => `${f.kind}: ${f.message}`).join("; ") + ".") : null,
  ].filter(Boolean));
  $("sign-dialog").returnValue = ""; // Escape must never replay an earlier "sign"
  $("sign-dialog").showModal();
  $("sign-confirm").focus();
}

async function sign() {
  const button = $("sign-button");
  button.disabled = true;
  try {
    await editor.flush();
    await api.sign(report.id);
    applyReport(await api.report(studyUid));
    toast("Report signed.");
    $("signed-panel").querySelector("button").focus();
  } catch (error) {
    button.disabled = false;
    toast(`Not signed: ${error.message}`, "error", 6000);
  }
}

async function download(kind) {
  try {
    const response = await api.exportBlob(report.id, kind);
    const disposition = response.headers.get("Content-Disposition") || "";
    const ext = { pdf: "pdf", sr: "dcm", "encapsulated-pdf": "dcm", fhir: "json", tid1500: "dcm" }[kind];
    const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    const name = match ? decodeURIComponent(match[1]) : `report-${study?.accession_number || report.id}-${kind}.${ext}`;
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    toast(`Export failed: ${error.message}`, "error");
  }
}

async function addAddendum(event) {
  event.preventDefault();
  const text = $("addendum-text").value.trim();
  if (!text) return;
  try {
    await api.addendum(report.id, text);
    $("addendum-text").value = "";
    applyReport(await api.report(studyUid));
    toast("Addendum added.");
  } catch (error) {
    toast(`Addendum not saved: ${error.message}`, "error");
  }
}

async function goStudy(step) {
  let order = [];
  try {
    order = JSON.parse(sessionStorage.getItem(ORDER_KEY) || "[]");
  } catch {
    order = [];
  }
  if (!order.length) {
    const list = await api.studies({ page: 1, page_size: 100 });
    order = (list.items || []).map((s) => s.study_instance_uid || s.study_uid);
  }
  const index = order.indexOf(studyUid);
  const target = order[index + step];
  if (index < 0 || !target) {
    toast(step > 0 ? "This is the last study in the worklist." : "This is the first study in the worklist.");
    return;
  }
  try {
    await editor.flush();
  } catch (error) {
    toast(`Your edit is kept on this device but not yet saved (${error.message}).`, "error");
  }
  location.assign(`/review/${encodeURIComponent(target)}`);
}

function toggleFocus() {
  const inEditor = document.activeElement?.closest?.(".side-pane");
  if (inEditor) $("viewer").focus();
  else $("draft-impression").focus();
}

function wire() {
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => preset(button.dataset.preset));
  }
  $("invert").addEventListener("click", () => viewer.toggleInvert());
  $("fit").addEventListener("click", () => viewer.fit());
  $("reset").addEventListener("click", () => viewer.reset());
  $("zoom-in").addEventListener("click", () => viewer.zoom(1.25));
  $("zoom-out").addEventListener("click", () => viewer.zoom(0.8));
  $("prev-study").addEventListener("click", () => goStudy(-1));
  $("next-study").addEventListener("click", () => goStudy(1));
  $("sign-button").addEventListener("click", openSignDialog);
  $("sign-dialog").addEventListener("close", () => {
    if ($("sign-dialog").returnValue === "sign") sign();
  });
  $("addendum-form").addEventListener("submit", addAddendum);
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => download(button.dataset.export));
  }
  const shortcuts = installShortcuts([
    { keys: ["Alt+ArrowDown", "]"], label: "Next study", run: () => goStudy(1) },
    { keys: ["Alt+ArrowUp", "["], label: "Previous study", run: () => goStudy(-1) },
    { keys: ["Ctrl+Enter"], label: "Sign the report (asks to confirm)", run: openSignDialog, anywhere: true },
    { keys: ["F6"], label: "Move focus between viewer and editor", run: toggleFocus, anywhere: true },
    { keys: ["1"], label: "Lung window", run: () => preset("lung") },
    { keys: ["2"], label: "Mediastinum window", run: () => preset("mediastinum") },
    { keys: ["3"], label: "Bone window", run: () => preset("bone") },
    { keys: ["0"], label: "Window from the DICOM header", run: () => preset("default") },
    { keys: ["i"], label: "Invert", run: () => viewer.toggleInvert() },
    { keys: ["f"], label: "Fit image to viewport", run: () => viewer.fit() },
    { keys: ["x"], label: "Reset window, zoom and invert", run: () => viewer.reset() },
    { keys: ["+", "="], label: "Zoom in", run: () => viewer.zoom(1.25) },
    { keys: ["-"], label: "Zoom out", run: () => viewer.zoom(0.8) },
    { keys: ["Escape"], label: "Leave the editor (focus the viewer)", run: (e) => (e.target.closest?.(".side-pane") ? $("viewer").focus() : false), anywhere: true },
  ]);
  $("help-button").addEventListener("click", () => shortcuts.toggleHelp(true));
}

function preset(name) {
  if (name === "default") viewer.resetWindow();
  else viewer.preset(name);
  for (const b of document.querySelectorAll("[data-preset]")) b.classList.toggle("active", b.dataset.preset === name);
}

async function main() {
  wire();
  const ontologyTask = fetch("/ui/ontology.json").then((r) => (r.ok ? r.json() : { findings: {} })).catch(() => ({ findings: {} }));
  try {
    study = await studyTask;
  } catch (error) {
    $("patient-name").textContent = error instanceof ApiError && error.status === 404 ? "Study not found" : "Could not load the study";
    showViewerMessage(error.message);
    return;
  }
  const imageTask = loadImage(renderStudy(study)[0]);
  loadPriors(studyUid, { panel: $("priors-panel"), list: $("priors-list"), status: $("priors-status"),
    fetchButton: $("priors-fetch") });
  findings.ontology = (await ontologyTask).findings || {};
  await statusLabelsReady;
  let found = await reportTask;
  if (!found) found = await waitForDraft();
  if (found) {
    applyReport(found);
    $("sign-button").disabled = report.status === "signed";
  }
  await imageTask;
  document.body.dataset.ready = "true";
}

if (getToken()) main().catch((error) => toast(error.message, "error", 8000));
