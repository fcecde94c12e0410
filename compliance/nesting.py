"""How deep a DICOM dataset's sequences nest, found without recursion and without parsing past a limit.

Real objects nest a handful of levels (a TID 1500 SR about ten); a 300 KB file can nest 500+, and
every level costs pydicom a re-parse of what is below it and every recursive walk a Python frame, so
such a file is refused before anything walks it. It lives here, in the lowest layer, because ingestion
(``medvlm.dicom``) and de-identification both check it.
"""

from __future__ import annotations

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

DEFAULT_MAX_SEQUENCE_DEPTH = 32
_UNDEFINED = 0xFFFFFFFF


def _may_be_sequence(raw: object) -> bool:
    """Explicit VR says so; an implicit or unknown VR is a sequence when the dictionary says so or its
    length is undefined (how pydicom itself decides). Everything else is left unconverted (cheap)."""
    vr = getattr(raw, "VR", None)
    if vr == "SQ":
        return True
    if vr not in (None, "UN"):
        return False
    if getattr(raw, "length", None) == _UNDEFINED or getattr(raw, "is_undefined_length", False):
        return True
    try:
        return dictionary_VR(raw.tag) == "SQ"  # type: ignore[attr-defined]
    except KeyError:
        return False


def sequence_depth(ds: Dataset, stop_after: int = DEFAULT_MAX_SEQUENCE_DEPTH) -> int:
    """The deepest sequence item level in ``ds`` (0: no sequences), or ``stop_after + 1`` as soon as a
    deeper level is seen. Each level is parsed once, so the work is bounded by ``stop_after`` x size."""
    deepest = 0
    stack: list[tuple[Dataset, int]] = [(ds, 0)]
    while stack:
        current, depth = stack.pop()
        for raw in current.elements():  # raw elements: only possible sequences are converted
            if not _may_be_sequence(raw):
                continue
            elem = current[raw.tag]  # this level only; its items stay raw below
            if elem.VR != "SQ":
                continue
            for item in elem.value:
                if depth + 1 > stop_after:
                    return stop_after + 1
                deepest = max(deepest, depth + 1)
                stack.append((item, depth + 1))
    return deepest
