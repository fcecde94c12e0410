"""A PHI-laden DICOM instance: every attribute PS3.15 Table E.1-1 names, at the top level and two
sequence levels down, an SR content tree, per-frame timestamps and the file meta sender title, each
holding a marker value of its own so that a leak is counted by searching the written bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset

from medvlm.compliance.deid_profile import annex_e

_BINARY_NUMBERS = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT"}


@dataclass
class PhiDataset:
    dataset: Dataset
    text_markers: list[bytes] = field(default_factory=list)  # must not appear in the written file
    other: list[tuple[str, int, object]] = field(default_factory=list)  # (level, tag, value) numbers


def _value(vr: str, level: str, i: int) -> object:
    day = dt.date(1930, 1, 1) + dt.timedelta(days=i + (20000 if level == "B" else 0))
    clock = f"{10 + i // 3600 % 10:02d}{i // 60 % 60:02d}{i % 60:02d}"
    return {
        "DA": day.strftime("%Y%m%d"), "TM": clock, "DT": day.strftime("%Y%m%d") + clock,
        "IS": str(7_000_000 + i + (100_000 if level == "B" else 0)),
        "DS": str(7_000_000 + i + (100_000 if level == "B" else 0)),
        "UI": f"1.2.826.0.1.3680043.10.999.{ord(level)}.{i}", "AS": "045Y",
        "PN": f"PHI{level}{i:04d}^Jane", "OB": f"PHI{level}{i:04d}".encode(),
        "OW": f"PHI{level}{i:04d}".encode(), "UN": f"PHI{level}{i:04d}".encode(),
    }.get(vr, f"PHI{level}{i:04d}")


def _code(marker: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = marker, "99PHI", marker + " meaning"
    return item


def _fill(target: Dataset, level: str, corpus: PhiDataset) -> None:
    for i, tag in enumerate(sorted(annex_e().exact)):
        if tag >> 16 in (0x0000, 0x0002) or keyword_for_tag(tag) in ("PixelData", "ContentSequence"):
            continue
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:
            continue
        if vr == "SQ" and annex_e().exact[tag] == "K":  # reference sequences: items kept, UIDs remapped
            item = Dataset()
            item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
            item.ReferencedSOPInstanceUID = _value("UI", level, i)
            target.add_new(tag, "SQ", [item])
            corpus.text_markers.append(str(item.ReferencedSOPInstanceUID).encode())
        elif vr == "SQ":
            target.add_new(tag, "SQ", [_code(f"PHI{level}{i:04d}")])
            corpus.text_markers.append(f"PHI{level}{i:04d}".encode())
        elif vr in _BINARY_NUMBERS:
            value = 0x00100010 if vr == "AT" else 4000 + i
            target.add_new(tag, vr, value)
            corpus.other.append((level, tag, value))
        else:
            value = _value(vr, level, i)
            target.add_new(tag, vr, value)
            if vr == "AS":
                corpus.other.append((level, tag, value))
            else:
                corpus.text_markers.append(value.encode() if isinstance(value, str) else value)


def _sr_item(depth: int, corpus: PhiDataset) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    item.ConceptNameCodeSequence = [_code("121071")]
    item.TextValue = f"Spoke to Smith about Doe Johnathan SRTEXT{depth}"
    item.Date, item.Time, item.DateTime = f"1999010{depth}", f"11223{depth}", f"1999010{depth}112233"
    item.PersonName = f"Observer{depth}^Alice"
    item.UID = f"1.2.826.0.1.3680043.10.888.{depth}"
    corpus.text_markers += [f"SRTEXT{depth}".encode(), f"1999010{depth}".encode(), f"11223{depth}".encode(),
                            f"Observer{depth}".encode(), f"1.2.826.0.1.3680043.10.888.{depth}".encode()]
    if depth < 3:
        item.ContentSequence = [_sr_item(depth + 1, corpus)]
    return item


def phi_dataset(base: Dataset) -> PhiDataset:
    """``base`` (a valid image) with PHI everywhere the profile looks and a few places it must not miss."""
    corpus = PhiDataset(base)
    ds = base
    _fill(ds, "A", corpus)
    outer, inner = Dataset(), Dataset()  # two levels down, in sequences the table does not list
    _fill(inner, "B", corpus)
    outer.PurposeOfReferenceCodeSequence = [inner]
    ds.AnatomicRegionSequence = [outer]
    ds.ContentSequence = [_sr_item(1, corpus)]
    frame, content = Dataset(), Dataset()
    content.FrameAcquisitionDateTime, content.FrameReferenceDateTime = "20110203040506", "20110203040507"
    content.FrameAcquisitionNumber = 1
    frame.FrameContentSequence = [content]
    ds.PerFrameFunctionalGroupsSequence = [frame]
    corpus.text_markers += [b"20110203040506", b"20110203040507"]
    ds.file_meta.SourceApplicationEntityTitle = "PHISRCAE"
    ds.file_meta.SendingApplicationEntityTitle = "PHISENDAE"
    corpus.text_markers += [b"PHISRCAE", b"PHISENDAE"]
    ds.add_new(0x60000022, "LO", "PHIOVERLAYDESC")  # overlay description: not in the table's masks
    corpus.text_markers.append(b"PHIOVERLAYDESC")
    return corpus
