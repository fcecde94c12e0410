"""How deep a DICOM dataset's sequences nest, found without recursion and without parsing past a limit.

Real objects nest a handful of levels (a TID 1500 SR about ten); a 300 KB file can nest 500+, and
every level costs pydicom a re-parse of what is below it and every recursive walk a Python frame, so
such a file is refused before anything walks it. It lives here, in the lowest layer, because ingestion
(``medvlm.dicom``) and de-identification both check it.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

DEFAULT_MAX_SEQUENCE_DEPTH = 32


def sequence_depth(ds: Dataset, stop_after: int = DEFAULT_MAX_SEQUENCE_DEPTH) -> int:
    """The deepest sequence item level in ``ds`` (0: no sequences), or ``stop_after + 1`` as soon as a
    deeper level is seen. Each level is parsed once, so the work is bounded by ``stop_after`` x size."""
    deepest = 0
    stack: list[tuple[Dataset, int]] = [(ds, 0)]
    while stack:
        current, depth = stack.pop()
        for elem in current:  # converts this level's raw elements only; items stay raw below
            if elem.VR != "SQ":
                continue
            for item in elem.value:
                if depth + 1 > stop_after:
                    return stop_after + 1
                deepest = max(deepest, depth + 1)
                stack.append((item, depth + 1))
    return deepest
