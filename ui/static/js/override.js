// "Draft anyway": a radiologist asks for a draft of a study the intended-use gate refused.
//
// Offered only to roles holding report:write (the role policy, read from /ui/vocabulary.json; the API
// decides again). The confirm dialog states the gate's reason and that the draft will carry a warning
// banner; the request is audited by the server (study.draft_requested), and what it answered is shown.

import { api, currentUser, may } from "./api.js";

const $ = (id) => document.getElementById(id);

// Show the refusal on the review page; resolves with the queued job once a radiologist confirmed.
export function offerOverride(studyUid, gateReason) {
  const reason = gateReason.replace(/^outside intended use:\s*/i, "");
  $("refusal-reason").textContent = reason;
  $("override-panel").hidden = false;
  const button = $("draft-anyway");
  button.hidden = !may("report:write");
  $("override-note").textContent = button.hidden
    ? "Only a radiologist can ask for a draft outside intended use." : "";
  if (button.hidden) return new Promise(() => {}); // nothing to wait for
  return new Promise((resolve) => {
    const dialog = $("override-dialog");
    button.onclick = () => {
      $("override-dialog-reason").textContent = reason;
      $("override-why").value = "";
      dialog.returnValue = ""; // Escape must never replay an earlier confirm
      dialog.showModal();
      $("override-cancel").focus();
    };
    dialog.onclose = async () => {
      if (dialog.returnValue !== "override") return;
      button.disabled = true;
      const why = $("override-why").value.trim();
      try {
        const queued = await api.requestDraft(studyUid, { override_intended_use: true, reason: why || null });
        const who = currentUser()?.username || "you";
        $("override-result").textContent = `Draft requested outside intended use by ${who}`
          + `${why ? ` (${why})` : ""}; recorded in the audit trail (job ${queued.job_id}). `
          + "The draft will carry a warning banner.";
        $("override-result").hidden = false;
        button.hidden = true;
        resolve(queued);
      } catch (error) {
        button.disabled = false;
        $("override-result").textContent = `Not requested: ${error.message}`;
        $("override-result").hidden = false;
      }
    };
  });
}

export function hideOverride() {
  $("override-panel").hidden = true;
}


