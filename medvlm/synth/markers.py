"""Burnt-in labels: the lead side marker ("L"/"R", white where lead stopped the beam) and the text a
portable unit stamps on the film ("PORTABLE", "AP SUPINE"), from a 5x7 bitmap font (no font files)."""

from __future__ import annotations

import numpy as np

from medvlm.synth.acquisition import Acquisition

_GLYPHS = {
    "A": ("01110", "10001", "10001", "11111", "10001", "10001", "10001"),
    "B": ("11110", "10001", "10001", "11110", "10001", "10001", "11110"),
    "C": ("01111", "10000", "10000", "10000", "10000", "10000", "01111"),
    "E": ("11111", "10000", "10000", "11110", "10000", "10000", "11111"),
    "I": ("01110", "00100", "00100", "00100", "00100", "00100", "01110"),
    "L": ("10000", "10000", "10000", "10000", "10000", "10000", "11111"),
    "N": ("10001", "11001", "10101", "10011", "10001", "10001", "10001"),
    "O": ("01110", "10001", "10001", "10001", "10001", "10001", "01110"),
    "P": ("11110", "10001", "10001", "11110", "10000", "10000", "10000"),
    "R": ("11110", "10001", "10001", "11110", "10100", "10010", "10001"),
    "S": ("01111", "10000", "10000", "01110", "00001", "00001", "11110"),
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "U": ("10001", "10001", "10001", "10001", "10001", "10001", "01110"),
    " ": ("00000",) * 7,
}


def text_bitmap(text: str, pixel: int) -> np.ndarray:
    """``text`` as a float mask, each font pixel ``pixel`` film pixels wide (unknown characters blank)."""
    cells = [np.array([[c == "1" for c in row] for row in _GLYPHS.get(ch, _GLYPHS[" "])]) for ch in text]
    gap = np.zeros((7, 1), dtype=bool)
    line = np.concatenate([part for cell in cells for part in (cell, gap)][:-1], axis=1)
    return np.kron(line, np.ones((pixel, pixel))).astype(np.float32)


def _stamp(y: np.ndarray, mask: np.ndarray, row: int, col: int, value: float) -> None:
    h, w = y.shape
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + mask.shape[0], h), min(col + mask.shape[1], w)
    if r1 <= r0 or c1 <= c0:
        return
    m = mask[r0 - row : r1 - row, c0 - col : c1 - col]
    y[r0:r1, c0:c1] = y[r0:r1, c0:c1] * (1 - m) + value * m


def marker_box(
    acq: Acquisition, size: int, field: tuple[int, int, int, int]
) -> tuple[int, int, int, int] | None:
    """Where the side marker goes (row, col, height, width), inside the exposed field ``field`` (top,
    bottom, left, right). Frontal films are shown as if facing the patient: the patient's right ("R") on
    the viewer's left. A lateral film's marker names the side against the detector; it sits anteriorly."""
    if not acq.marker:
        return None
    pixel = max(2, round(size * 0.005))
    h, w = 7 * pixel, 5 * pixel
    top, bottom, left, right = field
    row = int(top + acq.marker_row * (bottom - top))
    margin = max(4, size // 40)
    on_left = acq.marker == "R" if acq.frontal else True  # lateral: columns run posterior
    col = left + margin if on_left else right - margin - w
    return row, col, h, w


def burn_labels(y: np.ndarray, acq: Acquisition, field: tuple[int, int, int, int]) -> np.ndarray:
    """Stamp the marker (white: lead) and the text (white, near the top corner of the film)."""
    size = y.shape[0]
    box = marker_box(acq, size, field)
    if box is not None:
        row, col, h, _w = box
        _stamp(y, text_bitmap(acq.marker, h // 7), row, col, 0.97)
    if acq.text:
        bitmap = text_bitmap(acq.text, max(1, round(size * 0.004)))
        margin = max(3, size // 60)
        col = margin if acq.marker != "R" else size - margin - bitmap.shape[1]
        under = y[margin : margin + bitmap.shape[0], max(col, 0) : col + bitmap.shape[1]]
        # Printed in whichever of white or black shows on what lies under it (a white shutter border).
        _stamp(y, bitmap, margin, col, 0.0 if under.size and float(under.mean()) > 0.6 else 1.0)
    return y
