"""The human-readable report as a PDF (reportlab): header, key image, findings table, text, attestation.

An unsigned report carries a DRAFT watermark on every page and an attestation saying it is not yet
reviewed, so a printed draft can never pass for a signed report. Output is byte-for-byte reproducible
for the same context (``invariant``), which lets the service cache and hash exports.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from medvlm.service.exports.context import ReportContext
from medvlm.service.exports.image import key_image_png
from medvlm.service.exports.text import attestation, display_name, probability_text, utc_text

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
CRITICAL_RED = colors.HexColor("#b00020")


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    """DejaVu (covers accented and non-Latin names) when installed; the built-in Helvetica otherwise."""
    regular, bold = _DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        pdfmetrics.registerFont(TTFont("MedVLMSans", str(regular)))
        pdfmetrics.registerFont(TTFont("MedVLMSans-Bold", str(bold)))
        return "MedVLMSans", "MedVLMSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    font, bold = _fonts()
    base = getSampleStyleSheet()["Normal"]
    return {
        "body": ParagraphStyle("body", parent=base, fontName=font, fontSize=10, leading=13),
        "small": ParagraphStyle("small", parent=base, fontName=font, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontName=font, fontSize=9, leading=11),
        "caption": ParagraphStyle("caption", parent=base, fontName=font, fontSize=8, leading=10,
                                  alignment=1),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=15, leading=19),
        "heading": ParagraphStyle("heading", parent=base, fontName=bold, fontSize=11, leading=14,
                                  spaceBefore=8, spaceAfter=3),
        "attest": ParagraphStyle("attest", parent=base, fontName=bold, fontSize=10, leading=13,
                                 spaceBefore=10),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    # Report text is user input: escape it so '<' or '&' is printed, not parsed as markup.
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _header(ctx: ReportContext, st: dict[str, ParagraphStyle]) -> list:
    status = "SIGNED" if ctx.is_signed else f"DRAFT ({ctx.status.value.replace('_', ' ')})"
    fields = [
        ("Patient", ctx.patient_name.replace("^", " ").strip() or "-"), ("Patient ID", ctx.patient_id or "-"),
        ("Birth date", ctx.patient_birth_date.isoformat() if ctx.patient_birth_date else "-"),
        ("Sex", ctx.patient_sex or "-"), ("Accession", ctx.accession_number or "-"),
        ("Study date", ctx.study_date.isoformat() if ctx.study_date else "-"),
        ("Modality", ctx.modality or "-"), ("Description", ctx.study_description or "-"),
    ]
    rows = [[_p(fields[i][0], st["small"]), _p(fields[i][1], st["body"]),
             _p(fields[i + 1][0], st["small"]), _p(fields[i + 1][1], st["body"])] for i in range(0, 8, 2)]
    rows.append([_p("Study UID", st["small"]), _p(ctx.study_instance_uid, st["small"]), "", ""])
    table = Table(rows, colWidths=[2.3 * cm, 6.2 * cm, 2.3 * cm, 6.2 * cm])
    table.setStyle(TableStyle([("SPAN", (1, 4), (3, 4)), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOX", (0, 0), (-1, -1), 0.5, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f4f6f8"))]))
    return [_p(f"{ctx.institution} - Radiology report", st["title"]),
            _p(f"Status: {status}    Report ID: {ctx.report_id}", st["small"]), Spacer(1, 6), table]


def _key_image(ctx: ReportContext, st: dict[str, ParagraphStyle]) -> list:
    # JPEG (quality 90) keeps the PDF near 100 KB; the diagnostic original stays in PACS.
    png = key_image_png(ctx.key_image_path, max_size=900)
    jpeg = io.BytesIO()
    PILImage.open(io.BytesIO(png)).convert("L").save(jpeg, format="JPEG", quality=90)
    jpeg.seek(0)
    picture = Image(jpeg)
    scale = min(9 * cm / picture.imageWidth, 9 * cm / picture.imageHeight)
    picture.drawWidth, picture.drawHeight = picture.imageWidth * scale, picture.imageHeight * scale
    caption = _p(f"Key image (SOP Instance UID {ctx.key_sop_instance_uid})", st["caption"])
    return [Spacer(1, 8), KeepTogether([picture, caption])]


def _findings_table(ctx: ReportContext, st: dict[str, ParagraphStyle]) -> list:
    findings = ctx.present_findings
    if not findings:
        return [_p("Structured findings", st["heading"]), _p("No findings reported.", st["body"])]
    head = ["Finding", "Presence", "Probability", "Laterality", "Severity", "Location", "Critical"]
    rows: list[list] = [[_p(h, st["small"]) for h in head]]
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    for row, f in enumerate(findings, start=1):
        rows.append([_p(v, st["cell"]) for v in (
            display_name(f.label), f.presence.value, probability_text(f) or "-",
            f.laterality.value if f.laterality else "-", f.severity or "-", f.location or "-",
            "CRITICAL" if f.critical else "no")])
        if f.critical:
            style.append(("BACKGROUND", (0, row), (-1, row), colors.HexColor("#fde7ea")))
    table = Table(rows, colWidths=[3.6 * cm, 2.3 * cm, 2.0 * cm, 2.0 * cm, 2.0 * cm, 3.0 * cm, 2.1 * cm],
                  repeatRows=1)
    table.setStyle(TableStyle(style))
    return [_p("Structured findings", st["heading"]), table]


def _text(ctx: ReportContext, st: dict[str, ParagraphStyle]) -> list:
    flow: list = [_p("Findings", st["heading"]), _p(ctx.findings_text.strip() or "-", st["body"]),
                  _p("Impression", st["heading"]), _p(ctx.impression.strip() or "-", st["body"])]
    for add in ctx.addenda:
        flow += [_p(f"Addendum by {add.author}, {utc_text(add.created_at)}", st["heading"]),
                 _p(add.text.strip(), st["body"])]
    flow.append(_p(attestation(ctx), st["attest"]))
    flow.append(_p(f"Model version: {ctx.model_version or 'unknown'}", st["small"]))
    return flow


def _page_decorator(ctx: ReportContext):  # type: ignore[no-untyped-def]
    font, _bold = _fonts()
    made = utc_text(ctx.signed_at or ctx.created_at or datetime(1970, 1, 1, tzinfo=UTC))

    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFillColor(colors.grey)
        canvas.setFont(font, 7.5)
        state = "signed" if ctx.is_signed else "draft"
        canvas.drawString(2 * cm, 1.2 * cm,
                          f"Report {ctx.report_id} - {state} {made} - model {ctx.model_version or 'unknown'}")
        canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"page {doc.page}")
        canvas.restoreState()

    return decorate


class _DraftCanvas(Canvas):
    """Stamps DRAFT over each finished page, on top of the content (the key image included), so that no
    crop or screenshot of a draft page loses the mark."""

    def showPage(self) -> None:  # reportlab's method name
        self.saveState()
        self.setFillColor(colors.Color(0.85, 0.2, 0.2, alpha=0.22))
        self.setFont(_fonts()[1], 110)
        self.translate(A4[0] / 2, A4[1] / 2)
        self.rotate(45)
        self.drawCentredString(0, -35, "DRAFT")
        self.restoreState()
        super().showPage()


def build_pdf(report_ctx: ReportContext) -> bytes:
    """The report as PDF bytes (A4)."""
    ctx, st = report_ctx, _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.8 * cm, bottomMargin=2 * cm,
        title=f"Radiology report {ctx.accession_number or ctx.report_id}",
        author=ctx.signer or "MedVLM draft",
        subject=f"Study {ctx.study_instance_uid}", creator=f"MedVLM (model {ctx.model_version or 'unknown'})",
        invariant=1)
    story = _header(ctx, st) + _key_image(ctx, st) + _findings_table(ctx, st) + _text(ctx, st)
    decorate = _page_decorator(ctx)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate,
              canvasmaker=Canvas if ctx.is_signed else _DraftCanvas)
    return buffer.getvalue()
