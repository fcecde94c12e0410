"""Which instances may enter a training set: what the intended-use gate accepts, frontal and lateral chest
radiographs only.

The decision is ``medvlm.gate``'s, the same gate the service runs before drafting (DICOM attributes,
then the image check on the pixels), so the model is trained on what it will be asked to read and a
study the service would refuse never becomes training data. Refusals carry the gate's reason.
"""

from __future__ import annotations

from collections.abc import Callable

from pydicom.dataset import Dataset

from medvlm.gate.policy import FRONTAL_VIEWS, assess_image, attribute_reasons

NO_PIXELS = "no pixel data"  # the gate's reason for a file without pixels: a header-only read has none


def chest_view(ds: Dataset, read_pixels: Callable[[], Dataset] | None = None) -> tuple[str | None, str]:
    """("PA"|"AP"|"FRONTAL"|"LATERAL", "") for an instance the gate accepts, else (None, its reason).

    ``ds`` may be a header-only read (the folder scan); ``read_pixels`` then reads the whole instance,
    which happens only when the attributes pass, because the image check needs the pixels. "FRONTAL" is a
    frontal film whose ViewPosition is not stated (the gate's image check recognised it).
    """
    header_only = read_pixels is not None and "PixelData" not in ds
    reasons = [r for r in attribute_reasons(ds) if not (header_only and r == NO_PIXELS)]
    if reasons:
        return None, "; ".join(reasons)
    if read_pixels is not None and header_only:
        try:
            ds = read_pixels()
        except (OSError, ValueError, KeyError) as exc:
            return None, f"pixels not readable ({type(exc).__name__})"
    verdict = assess_image(ds)
    if verdict.kind == "lateral":
        return "LATERAL", ""
    if verdict.kind == "frontal":
        view = str(ds.get("ViewPosition", "") or "").strip().upper()
        return (view if view in FRONTAL_VIEWS else "FRONTAL"), ""
    return None, "; ".join(verdict.reasons) or f"the intended-use gate calls it {verdict.kind}"
