"""``report.html``: report generation (the model's own text first, the guarded draft and the baselines
beside it, the verdict against retrieval, CE-F1 per finding), findings-head metrics per finding and by
acquisition subgroup, ROC
curves (matplotlib PNGs embedded as data URIs, also written to ``roc/``) and example drafts beside the
reference reports (Jinja2, autoescaped)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment

from medvlm.evaluation.classification import interval_text

HEADLINE = ("findings.macro_auroc", "findings.macro_auroc_ci", "findings.macro_f1", "findings.ece",
            "findings.side_accuracy", "findings.side_pairs", "findings.side_baseline_right")
# Report columns, the model's own text first (the headline), then the delivered draft, then baselines.
REPORT_COLUMNS = (("model's own text (guard off)", "report"), ("after the guard", "report.guarded"),
                  ("baseline: fixed normal report", "baseline.normal"),
                  ("baseline: nearest train report (retrieval)", "baseline.retrieval"),
                  ("baseline: findings to template", "baseline.template"))
REPORT_ROWS = (("CE-F1 (micro)", "ce_f1"), ("CE-F1 (macro)", "ce_f1_macro"),
               ("CE precision", "ce_precision"), ("CE recall", "ce_recall"),
               ("hallucinated findings per report", "hallucination_rate"),
               ("reports with a hallucination", "drafts_with_hallucination"),
               ("omission rate", "omission_rate"), ("BLEU-4", "bleu4"), ("ROUGE-L", "rouge_l"),
               ("chrF", "chrf"))

TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>MedVLM evaluation</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222} table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top} th{background:#f3f3f3}
.rocs img{width:260px;margin:4px;border:1px solid #ddd} .flag{color:#a40} .num{text-align:right}
</style></head><body>
<h1>MedVLM evaluation</h1>
<p>Model <code>{{ m.model_version }}</code> on split <b>{{ m.split }}</b> of <code>{{ m.data_dir }}</code>:
{{ m.n_studies }} studies.</p>
<h2>Report generation</h2>
<p><b>{{ m.get("report.verdict", "") }}</b></p>
{% set causes = m.get("report.guard_changed_by") or {} %}
<p>The guard changed {{ fmt(m.get("report.guard_changed")) }} of the drafts{% if causes %} (by repair:
{% for kind, share in causes.items() %}{{ kind }} {{ fmt(share) }}{{ ", " if not loop.last }}{% endfor %})
{%- endif %}. Against the findings it was
prompted with (the model's predicted findings), the own text agrees with F1
{{ fmt(m.get("report.prompt_f1")) }} and adds {{ fmt(m.get("report.prompt_additions")) }} findings per
report: the text alone, without the classifier's errors. {{ fmt(m.get("drafts.unfamiliar")) }} of the drafts
carry the unfamiliar-film flag (a film stranger than 99 % of the model's training films). CE scores read
each report with the labeler and compare its positive findings with the ground truth (the dataset's
findings; IU MeSH tags for IU reports); the macro CE-F1 averages findings with enough truth positives
({{ m.get("report.ce_f1_macro_over", []) | join(", ") }}).</p>
<table><tr><th></th>{% for name, prefix in columns %}<th>{{ name }}</th>{% endfor %}</tr>
{% for label, key in rows %}<tr><th>{{ label }}</th>{% for name, prefix in columns %}
<td class=num>{{ fmt(m.get(prefix ~ "." ~ key)) }}</td>{% endfor %}</tr>
{% endfor %}</table>
<h2>Report CE-F1 per finding</h2>
<table><tr><th>finding</th><th>truth positives</th>{% for name, prefix in columns %}<th>{{ name }}</th>
{% endfor %}</tr>
{% for label, v in m.get("report.per_finding", {}).items() %}<tr><td>{{ label }}</td>
<td class=num>{{ v.support }}</td>{% for name, prefix in columns %}
<td class=num>{{ fmt(m.get(prefix ~ ".per_finding", {}).get(label, {}).get("f1")) }}</td>{% endfor %}</tr>
{% endfor %}</table>
<h2>Findings head</h2>
<table>{% for k in headline %}<tr><th>{{ k }}</th><td class=num>{{ fmt(m.get(k)) }}</td></tr>
{% endfor %}</table>
<h3>Per finding</h3>
<table><tr><th>finding</th><th>AUROC</th><th>95 % interval</th><th>F1</th><th>true positives</th>
<th>predicted positives</th><th>on the true side (of sided true positives)</th></tr>
{% set sides = m.get("findings.side_per_finding") or {} %}
{% for label, v in per_finding.items() %}<tr><td>{{ label }}</td><td class=num>{{ fmt(v.auroc) }}</td>
<td class=num>{{ fmt(v.auroc_ci) }}</td>
<td class=num>{{ fmt(v.f1) }}</td><td class=num>{{ v.support }}</td><td class=num>{{ v.predicted }}</td>
<td class=num>{% if label in sides %}{{ sides[label].agree }} of {{ sides[label].pairs }}{% endif %}</td></tr>
{% endfor %}</table>
{% set subgroups = m.get("findings.by_subgroup") or {} %}
{% if subgroups %}<h3>By how the film was taken</h3>
<p>Macro-AUROC within each subgroup (over findings with enough positives there), from the dataset's
provenance. Subgroups differ in case mix; a gap between two values of one subgroup is where a new site's
films may fail.</p>
<table><tr><th>subgroup</th><th>value</th><th>studies</th><th>macro-AUROC (supported)</th>
<th>macro-AUROC (all)</th></tr>
{% for subgroup, groups in subgroups.items() %}{% for value, s in groups.items() %}
<tr><td>{{ subgroup }}</td><td>{{ value }}</td><td class=num>{{ s.n }}</td>
<td class=num>{{ fmt(s.macro_auroc_supported) }}</td><td class=num>{{ fmt(s.macro_auroc) }}</td></tr>
{% endfor %}{% endfor %}</table>{% endif %}
<h2>ROC curves</h2>
<div class="rocs">{% for label, data in rocs %}
<img alt="ROC {{ label }}" src="data:image/png;base64,{{ data }}">
{% else %}<p>No finding has both classes in this split.</p>{% endfor %}</div>
<h2>Example drafts beside the reference</h2>
<table><tr><th>study</th><th>model's own text</th><th>after the guard</th><th>reference report</th>
<th>positive findings: predicted / truth</th></tr>
{% for e in examples %}<tr><td>{{ e.study_id }}</td>
<td><p>{{ e.own_findings }}</p><p><b>Impression:</b> {{ e.own_impression }}</p></td>
<td><p>{{ e.findings_text }}</p><p><b>Impression:</b> {{ e.impression }}</p>
<ul>{% for f in e.flags %}<li class=flag>{{ f.kind }}: {{ f.message }}</li>{% endfor %}</ul></td>
<td><p>{{ e.ref_findings }}</p><p><b>Impression:</b> {{ e.ref_impression }}</p></td>
<td>{{ e.predicted | join(", ") or "none" }}<br>/ {{ e.truth | join(", ") or "none" }}</td></tr>
{% endfor %}</table></body></html>
"""


def roc_png(label: str, fpr: Sequence[float], tpr: Sequence[float], auroc: float | None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(3.2, 3.2), dpi=90)
    ax.plot(fpr, tpr, lw=2, label=f"AUROC {auroc:.3f}" if auroc is not None else None)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate")
    ax.set_title(label, fontsize=10)
    if auroc is not None:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | tuple):  # a bootstrap interval
        return interval_text(value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_report(out_dir: Path, metrics: dict[str, Any], curves: dict[str, tuple],
                 examples: list[dict]) -> Path:
    """Write ``report.html`` (and ``roc/<finding>.png``) into ``out_dir``; returns the HTML path."""
    roc_dir = out_dir / "roc"
    roc_dir.mkdir(parents=True, exist_ok=True)
    per_finding = metrics.get("findings.per_finding", {})
    rocs = []
    for label, (fpr, tpr) in curves.items():
        png = roc_png(label, fpr, tpr, per_finding.get(label, {}).get("auroc"))
        (roc_dir / f"{label}.png").write_bytes(png)
        rocs.append((label, base64.b64encode(png).decode()))
    template = Environment(autoescape=True).from_string(TEMPLATE)
    html = template.render(m=metrics, headline=HEADLINE, per_finding=per_finding, rocs=rocs,
                           examples=examples, fmt=_fmt, columns=REPORT_COLUMNS, rows=REPORT_ROWS)
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
