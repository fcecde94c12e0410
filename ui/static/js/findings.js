// Findings panel: each finding with probability, laterality, severity and the critical flag; the reader
// toggles present/absent and edits laterality/severity; "regenerate" redrafts the text from them.

import { el } from "./api.js";

const GENERIC_LATERALITIES = ["left", "right", "bilateral"];
const FINDING_KEYS = ["label", "presence", "laterality", "severity", "location", "probability", "threshold",
  "critical", "change", "evidence", "extra"];

function titleCase(name) {
  return name.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

// Keep only Finding fields: the API rejects unknown keys.
function clean(finding) {
  const out = {};
  for (const key of FINDING_KEYS) {
    if (finding[key] !== undefined && finding[key] !== null && finding[key] !== "") out[key] = finding[key];
  }
  return out;
}

export class FindingsPanel {
  constructor(root, { ontology = {}, onChange = () => {}, onRegenerate = () => {} } = {}) {
    this.root = root;
    this.ontology = ontology;
    this.onChange = onChange;
    this.onRegenerate = onRegenerate;
    this.findings = [];
    this.readOnly = false;
  }

  spec(label) {
    return this.ontology[label] || {};
  }

  // Present and critical first, then by probability: the reader sees what matters at the top.
  load(findings) {
    const rank = (f) => (f.presence === "present" ? 0 : f.presence === "uncertain" ? 1 : 2);
    this.findings = (findings || [])
      .map((f) => ({ ...f }))
      .sort((a, b) => rank(a) - rank(b) || (b.critical ? 1 : 0) - (a.critical ? 1 : 0)
        || (b.probability ?? 0) - (a.probability ?? 0));
    this.render();
  }

  value() {
    return this.findings.map(clean);
  }

  setReadOnly(readOnly) {
    this.readOnly = readOnly;
    this.render();
  }

  // The server's critical rule, looked up per presence and severity (/ui/ontology.json); without the
  // ontology the model's flag stands until the reader edits the finding.
  _isCritical(f) {
    const table = this.spec(f.label).critical_when;
    if (table === undefined) return Boolean(f.critical);
    return Boolean((table[f.presence] || {})[f.severity || ""]);
  }

  _update(index, patch) {
    const next = { ...this.findings[index], ...patch };
    next.critical = this._isCritical(next);
    this.findings[index] = next;
    this.render();
    this.onChange(this.value());
  }

  render() {
    const rows = this.findings.map((f, i) => this._row(f, i));
    const list = el("ul", { class: "findings-list", "aria-label": "Findings" }, rows);
    if (!rows.length) list.append(el("li", { class: "muted" }, "No findings in this draft."));
    const regen = el(
      "button",
      { type: "button", class: "btn", id: "regenerate", disabled: this.readOnly, onclick: () => this.onRegenerate(this.value()),
        title: "Redraft the findings section and impression from the findings above (R)" },
      "Regenerate draft from findings",
    );
    this.root.replaceChildren(list, el("div", { class: "panel-actions" }, regen));
  }

  _row(f, index) {
    const spec = this.spec(f.label);
    const name = spec.display || titleCase(f.label);
    const present = f.presence === "present";
    const uncertain = f.presence === "uncertain";
    const id = `finding-${index}`;
    const prob = typeof f.probability === "number" ? Math.round(f.probability * 100) : null;
    // The model's own threshold (from the API) beside its probability: 9% can be present, 49% absent.
    const thr = typeof f.threshold === "number" ? Math.round(f.threshold * 100) : null;
    const toggle = el(
      "button",
      {
        type: "button",
        class: `toggle ${present ? "on" : uncertain ? "maybe" : "off"}`,
        "aria-pressed": present ? "true" : "false",
        "aria-label": `${name}: ${f.presence}. Toggle present or absent`,
        disabled: this.readOnly,
        dataset: { label: f.label },
        onclick: () => this._update(index, { presence: present ? "absent" : "present" }),
      },
      present ? "Present" : uncertain ? "Uncertain" : "Absent",
    );
    // Laterality and severity matter only for a present finding: absent rows stay one short line.
    const controls = el("div", { class: "finding-controls" });
    const lateralities = spec.lateralities?.length ? spec.lateralities : f.laterality ? GENERIC_LATERALITIES : [];
    if (lateralities.length && present) {
      controls.append(this._select(`${id}-lat`, "Laterality", f.laterality, lateralities, (v) => this._update(index, { laterality: v }), !present));
    }
    const severities = spec.severities?.length ? spec.severities : f.severity ? [f.severity] : [];
    if (severities.length && present) {
      controls.append(this._select(`${id}-sev`, "Severity", f.severity, severities, (v) => this._update(index, { severity: v }), !present));
    }
    return el(
      "li",
      { class: `finding ${present ? "present" : "absent"}${f.critical && present ? " critical" : ""}`, dataset: { label: f.label } },
      el(
        "div",
        { class: "finding-head" },
        el("span", { class: "finding-name", id }, name),
        f.critical && present ? el("span", { class: "badge badge-critical", title: "Critical finding" }, "Critical") : null,
        prob === null ? null : el(
          "span",
          { class: "prob", title: `Model probability ${prob}%${thr === null ? "" : `; present at ${thr}% or more`}` },
          el("span", { class: "prob-bar", "aria-hidden": "true" }, el("span", { style: `width:${prob}%` })),
          el("span", { class: "prob-text" }, `${prob}%`),
          thr === null ? null : el("span", { class: "prob-threshold" }, ` / threshold ${thr}%`),
        ),
        toggle,
      ),
      controls.childElementCount ? controls : null,
    );
  }

  _select(id, label, value, options, onchange, disabledWhenAbsent) {
    const select = el(
      "select",
      { id, disabled: this.readOnly || disabledWhenAbsent, onchange: (e) => onchange(e.target.value || null) },
      el("option", { value: "" }, "—"),
      options.map((o) => el("option", { value: o, selected: o === value }, o)),
    );
    return el("label", { class: "mini-field", for: id }, el("span", {}, label), select);
  }
}
