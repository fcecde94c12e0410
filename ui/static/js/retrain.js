// Retraining from signed corrections (admins): queue a job (POST /api/v1/retrain) and follow it
// (GET /api/v1/retrain) until it is done or failed. Production changes only when "promote" was asked
// for and the registry's gate passed; the card says which. Other roles never see the panel.
import { el, request } from "./api.js";

const $ = (id) => document.getElementById(id);
const ACTIVE = new Set(["queued", "running"]);
const POLL_MS = 3000;
let timer = null;

function outcome(job) {
  if (job.status === "failed") return `failed: ${job.last_error || "no reason recorded"}`;
  if (job.status !== "done") return "";
  if (!job.candidate_id) return "done";
  if (job.promoted) return `candidate ${job.candidate_id} promoted to production`;
  return job.promote ? `candidate ${job.candidate_id} registered; the gate refused promotion`
    : `candidate ${job.candidate_id} registered (not promoted: not asked for)`;
}

function jobRow(job) {
  const stage = job.stage ? `${job.stage} · step ${job.step}/${job.steps}` : "waiting for a worker";
  return el("li", { class: `retrain-job status-${job.status}`, dataset: { job: job.id, status: job.status } },
    el("div", { class: "retrain-line" },
      el("span", { class: "retrain-status" }, job.status),
      el("span", { class: "muted" }, `requested by ${job.requested_by}`),
      ACTIVE.has(job.status) ? el("span", {}, stage) : null),
    el("progress", { max: "100", value: String(job.percent), "aria-label": `Job ${job.id} progress` }),
    el("span", { class: "retrain-percent" }, `${job.percent.toFixed(1)}%`),
    el("p", { class: "retrain-outcome" }, outcome(job)));
}

async function refresh() {
  clearTimeout(timer);
  try {
    const jobs = await request("retrain?limit=10");
    $("retrain-view").hidden = false;
    $("retrain-jobs").replaceChildren(...jobs.map(jobRow));
    $("retrain-empty").hidden = jobs.length > 0;
    if (jobs.some((j) => ACTIVE.has(j.status))) timer = setTimeout(refresh, POLL_MS);
  } catch (error) {
    if (error.status === 403 || error.status === 401) $("retrain-view").hidden = true;  // not an admin
    else $("retrain-error").textContent = error.message;
  }
}

async function queue(event) {
  event.preventDefault();
  $("retrain-error").textContent = "";
  try {
    await request("retrain", { method: "POST",
      json: { data_dir: $("retrain-data").value.trim(), promote: $("retrain-promote").checked } });
  } catch (error) {
    $("retrain-error").textContent = error.message;  // e.g. no manifest there, or a job still running
  }
  refresh();
}

export function startRetrainPanel() {
  $("retrain-form").addEventListener("submit", queue);
  refresh();
}

export function stopRetrainPanel() {
  clearTimeout(timer);
  $("retrain-view").hidden = true;
}
