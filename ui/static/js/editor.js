// Draft editor: findings section + impression with autosave that never loses an edit.
//
// Every keystroke is written to localStorage at once (survives a reload, a crash and a lost connection);
// a debounced PUT with base_version saves it on the server; the local copy is dropped only after the
// server has acknowledged exactly that text. A 409 (someone else saved, or the report was signed) is shown,
// never silently overwritten.

import { ApiError, api, el } from "./api.js";

const DEBOUNCE_MS = 700;
const RETRY_MS = 4000;

export function localKey(reportId) {
  return `medvlm.draft.${reportId}`;
}

// Word-level diff (LCS); drafts are a few hundred words, so O(n*m) is fine.
export function diffWords(before, after) {
  const a = before.split(/(\s+)/).filter((t) => t !== "");
  const b = after.split(/(\s+)/).filter((t) => t !== "");
  const n = a.length;
  const m = b.length;
  const dp = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  }
  const parts = [];
  let i = 0;
  let j = 0;
  const push = (kind, text) => {
    const last = parts[parts.length - 1];
    if (last && last.kind === kind) last.text += text;
    else parts.push({ kind, text });
  };
  while (i < n && j < m) {
    if (a[i] === b[j]) { push("same", a[i]); i++; j++; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) push("del", a[i++]);
    else push("ins", b[j++]);
  }
  while (i < n) push("del", a[i++]);
  while (j < m) push("ins", b[j++]);
  return parts;
}

export class DraftEditor {
  constructor({ findingsText, impression, status, flags, diff, banner }, { getFindings = () => null, onSaved = () => {} } = {}) {
    this.fields = { findings_text: findingsText, impression };
    this.statusEl = status;
    this.flagsEl = flags;
    this.diffEl = diff;
    this.bannerEl = banner;
    this.getFindings = getFindings;
    this.onSaved = onSaved;
    this.report = null;
    this.version = null;
    this.timer = null;
    this.saving = null;
    this.pending = false;
    this.findingsDirty = false;
    this.readOnly = false;
    for (const field of Object.values(this.fields)) {
      field.addEventListener("input", () => this.changed());
    }
    window.addEventListener("online", () => this.pending && this.save());
  }

  values() {
    return { findings_text: this.fields.findings_text.value, impression: this.fields.impression.value };
  }

  load(report) {
    this.report = report;
    this.version = report.version;
    this.fields.findings_text.value = report.findings_text || "";
    this.fields.impression.value = report.impression || "";
    this.setReadOnly(report.status === "signed");
    this.bannerEl.hidden = true;
    const local = this._readLocal();
    if (local && !this.readOnly) {
      const same = local.findings_text === this.fields.findings_text.value && local.impression === this.fields.impression.value;
      if (same) {
        localStorage.removeItem(localKey(report.id));
      } else if (local.base_version === report.version) {
        // Our own unsaved edit of this very version: put it back and save it.
        this._apply(local);
        this.setStatus("unsaved", "Restored unsaved edit from this device");
        this.pending = true;
        this.save();
      } else {
        this._offerLocal(local);
      }
    }
    if (!this.pending) this.setStatus("saved", this._savedLabel());
    this.renderFlags(report.consistency_flags || []);
    this.renderDiff();
  }

  _apply(local) {
    this.fields.findings_text.value = local.findings_text ?? "";
    this.fields.impression.value = local.impression ?? "";
  }

  _offerLocal(local) {
    const restore = el("button", { type: "button", class: "btn btn-small", onclick: () => {
      this._apply(local);
      this.bannerEl.hidden = true;
      this.changed();
    } }, "Restore my copy");
    const discard = el("button", { type: "button", class: "btn btn-small btn-ghost", onclick: () => {
      localStorage.removeItem(localKey(this.report.id));
      this.bannerEl.hidden = true;
    } }, "Discard it");
    this.bannerEl.replaceChildren(
      el("span", {}, `This device holds an unsaved edit made on version ${local.base_version}; the server now has version ${this.report.version}.`),
      restore, discard,
    );
    this.bannerEl.hidden = false;
  }

  _readLocal() {
    try {
      return JSON.parse(localStorage.getItem(localKey(this.report.id)) || "null");
    } catch {
      return null;
    }
  }

  _writeLocal() {
    const copy = { ...this.values(), base_version: this.version, at: new Date().toISOString() };
    localStorage.setItem(localKey(this.report.id), JSON.stringify(copy));
  }

  setReadOnly(readOnly) {
    this.readOnly = readOnly;
    for (const field of Object.values(this.fields)) field.readOnly = readOnly;
  }

  changed({ findings = false } = {}) {
    if (this.readOnly) return;
    if (findings) this.findingsDirty = true;
    this._writeLocal();
    this.pending = true;
    this.setStatus("unsaved", "Unsaved changes");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), DEBOUNCE_MS);
    this.renderDiff();
  }

  // Replace the text with a server-side result (regenerate) and save it as the next version.
  replaceText(findingsText, impression) {
    this.fields.findings_text.value = findingsText || "";
    this.fields.impression.value = impression || "";
    this.changed();
  }

  async save() {
    clearTimeout(this.timer);
    if (this.readOnly || !this.report) return;
    if (this.saving) return this.saving; // the running loop below picks up what changed meanwhile
    this.saving = (async () => {
      try {
        while (this.pending) {
          if (!(await this._put())) break;
        }
      } finally {
        this.saving = null;
      }
    })();
    return this.saving;
  }

  async _put() {
    const sent = this.values();
    const body = { ...sent, base_version: this.version };
    const findings = this.findingsDirty ? this.getFindings() : null;
    if (findings) body.findings = findings;
    this.pending = false;
    this.setStatus("saving", "Saving…");
    try {
      const saved = await api.saveReport(this.report.id, body);
      if (findings) this.findingsDirty = false;
      this.version = saved?.version ?? this.version + 1;
      this.report = { ...this.report, ...(saved || {}) };
      const now = this.values();
      if (now.findings_text === sent.findings_text && now.impression === sent.impression) {
        localStorage.removeItem(localKey(this.report.id));
      } else {
        this.pending = true;
        this._writeLocal();
      }
      if (saved?.consistency_flags) this.renderFlags(saved.consistency_flags);
      this.onSaved(this.report);
      if (!this.pending) this.setStatus("saved", this._savedLabel());
      return true;
    } catch (error) {
      this.pending = true;
      if (error instanceof ApiError && error.status === 409) {
        this.setStatus("conflict", `Not saved: ${error.message}. Your text is kept on this device; reload to compare.`);
      } else if (error instanceof ApiError && error.status < 500) {
        this.setStatus("error", `Not saved: ${error.message}`);
      } else {
        this.setStatus("offline", "Offline: kept on this device, retrying…");
        this.timer = setTimeout(() => this.save(), RETRY_MS);
      }
      return false;
    }
  }

  // Wait until everything typed is on the server (before signing or leaving); throws if it cannot be.
  async flush() {
    clearTimeout(this.timer);
    if (this.saving) await this.saving;
    if (this.pending) await this.save();
    if (this.pending) throw new Error(this.statusEl.textContent || "the draft could not be saved");
  }

  _savedLabel() {
    const when = this.report?.updated_at ? new Date(this.report.updated_at) : new Date();
    const time = Number.isNaN(when.getTime()) ? "" : ` at ${when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
    return `Saved · version ${this.version}${time}`;
  }

  setStatus(state, text) {
    this.statusEl.dataset.state = state;
    this.statusEl.textContent = text;
  }

  // Consistency flags from the labeler, placed under the field that holds the flagged sentence.
  renderFlags(flags) {
    const targets = { findings_text: [], impression: [], other: [] };
    for (const flag of flags) {
      const sentence = flag.sentence || "";
      const where = sentence && this.fields.impression.value.includes(sentence) ? "impression"
        : sentence && this.fields.findings_text.value.includes(sentence) ? "findings_text" : "other";
      targets[where].push(flag);
    }
    for (const [where, list] of Object.entries(targets)) {
      const box = this.flagsEl[where];
      if (!box) continue;
      box.replaceChildren(...list.map((flag) => this._flag(flag, where)));
      box.hidden = list.length === 0;
    }
  }

  _flag(flag, where) {
    const select = () => {
      const field = this.fields[where];
      if (!field || !flag.sentence) return;
      const start = field.value.indexOf(flag.sentence);
      if (start < 0) return;
      field.focus();
      field.setSelectionRange(start, start + flag.sentence.length);
    };
    return el(
      "li",
      { class: "flag" },
      el("span", { class: "badge badge-warn" }, (flag.kind || "check").replace(/_/g, " ")),
      el("span", { class: "flag-msg" }, flag.message || `${flag.label}: inconsistent with findings`),
      flag.sentence && where !== "other"
        ? el("button", { type: "button", class: "link", onclick: select, title: "Select this sentence" }, `“${flag.sentence}”`)
        : flag.sentence ? el("q", {}, flag.sentence) : null,
    );
  }

  renderDiff() {
    if (!this.report || !this.diffEl) return;
    const original = this.report.original || {};
    const now = this.values();
    const blocks = [["Findings", original.findings_text || "", now.findings_text], ["Impression", original.impression || "", now.impression]];
    let changes = 0;
    const content = blocks.map(([title, before, after]) => {
      const parts = diffWords(before, after);
      changes += parts.filter((p) => p.kind !== "same").length;
      return el("div", { class: "diff-block" }, el("h4", {}, title),
        el("p", {}, parts.map((p) => (p.kind === "same" ? p.text : el(p.kind, {}, p.text)))));
    });
    this.diffEl.replaceChildren(
      el("p", { class: "muted" }, changes ? `${changes} change${changes === 1 ? "" : "s"} against the AI draft (model ${this.report.model_version || "?"})` : "No changes against the AI draft."),
      ...content,
    );
  }
}
