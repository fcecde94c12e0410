"""The audit's contact sheet: synthetic films next to real ones, both as the model sees them.

Top rows: synthetic films of the dataset (abnormal ones first, one per leading finding); bottom rows:
real films from the folder given (PNG or DICOM). Each tile is the model input (after the robust
normalisation), so a difference the eye sees here is a difference the model sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from medvlm.dataset.contact_sheet import _pick, describe
from medvlm.dataset.manifest import ManifestRecord


def _tile(image: np.ndarray, tile: int) -> Image.Image:
    return Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).resize(
        (tile, tile), Image.Resampling.BILINEAR
    )


def audit_sheet(
    synthetic: Sequence[tuple[ManifestRecord, np.ndarray]],
    real: Sequence[tuple[str, np.ndarray]],
    out: Path,
    columns: int = 6,
    tile: int = 224,
) -> Path:
    font = ImageFont.load_default(size=12)
    caption = 30
    groups = [
        ("synthetic", [(f"{r.split} {r.provenance.get('ct_patient', '')}: "
                        + "; ".join(describe(f) for f in r.findings), img) for r, img in synthetic]),
        ("real", list(real)),
    ]
    rows = sum((len(items) + columns - 1) // columns for _, items in groups if items)
    header = 22
    sheet = Image.new("L", (columns * tile, rows * (tile + caption) + header * len(groups)), color=255)
    draw = ImageDraw.Draw(sheet)
    y = 0
    for title, items in groups:
        draw.text((4, y + 4), f"{title} ({len(items)})", fill=0, font=font)
        y += header
        for n, (text, img) in enumerate(items):
            x = (n % columns) * tile
            ty = y + (n // columns) * (tile + caption)
            sheet.paste(_tile(img, tile), (x, ty))
            lines = "\n".join([text[:34], text[34:68]])
            draw.multiline_text((x + 2, ty + tile + 1), lines, fill=0, font=font, spacing=1)
        y += ((len(items) + columns - 1) // columns) * (tile + caption)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out


def pick_synthetic(records: list[ManifestRecord], count: int) -> list[ManifestRecord]:
    return _pick(records, count)
