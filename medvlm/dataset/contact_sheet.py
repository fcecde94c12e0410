"""``medvlm data show``: a contact sheet PNG of films with their ground-truth findings underneath."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from medvlm.dataset.errors import DatasetError
from medvlm.dataset.manifest import ManifestRecord, read_manifest
from medvlm.errors import MedVLMError
from medvlm.findings import NO_FINDING, Finding


def describe(f: Finding) -> str:
    parts = [
        f.laterality.value if f.laterality else "",
        f.severity or "",
        f.label.replace("_", " "),
        f"({f.location})" if f.location else "",
    ]
    return " ".join(p for p in parts if p)


def _film(path: Path, tile: int) -> Image.Image:
    """The film as the viewer shows it (stored window, bone bright), through the one display pipeline."""
    from medvlm.dicom.pixels import display_frame, read_dataset

    try:
        img = display_frame(read_dataset(path))
    except (MedVLMError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read DICOM pixels ({exc})") from None
    return Image.fromarray((img * 255).astype(np.uint8)).resize((tile, tile), Image.Resampling.BILINEAR)


def _pick(records: list[ManifestRecord], count: int) -> list[ManifestRecord]:
    """Abnormal studies first (one per leading label, for variety), then normal ones, up to count."""
    seen: set[str] = set()
    first, rest = [], []
    for r in records:
        labels = [f.label for f in r.findings if f.label != NO_FINDING]
        if labels and labels[0] not in seen:
            seen.add(labels[0])
            first.append(r)
        else:
            rest.append(r)
    return (first + rest)[:count]


def contact_sheet(directory: Path, out: Path, count: int = 16, columns: int = 4, tile: int = 256) -> Path:
    records = _pick(read_manifest(directory), count)
    if not records:
        raise DatasetError(f"{directory}: the manifest lists no studies")
    font = ImageFont.load_default(size=max(tile // 20, 10))
    caption = tile // 20 * 3 + 8
    rows = (len(records) + columns - 1) // columns
    sheet = Image.new("L", (columns * tile, rows * (tile + caption)), color=255)
    draw = ImageDraw.Draw(sheet)
    for n, record in enumerate(records):
        x, y = (n % columns) * tile, (n // columns) * (tile + caption)
        sheet.paste(_film(record.files[0], tile), (x, y))
        text = "; ".join(describe(f) for f in record.findings) or "no finding"
        lines = [f"{record.split} {record.report_source}: {text}"]
        while len(lines[-1]) > 40 and len(lines) < 3:
            cut = lines[-1].rfind(" ", 0, 40)
            lines[-1:] = [lines[-1][:cut], lines[-1][cut + 1 :]]
        draw.multiline_text((x + 4, y + tile + 2), "\n".join(lines), fill=0, font=font, spacing=1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out
