"""DICOM files with sequences nested hundreds of levels deep, written byte by byte (pydicom's own writer
recurses once per level, so it cannot write what the tests must refuse)."""

from __future__ import annotations

import struct

from tests.medvlm.dicom.dicom_factory import make_image, to_bytes

_ITEM, _ITEM_END, _SEQ_END = (0xFFFE, 0xE000), (0xFFFE, 0xE00D), (0xFFFE, 0xE0DD)
_UNDEFINED = 0xFFFFFFFF


def _tag(tag: tuple[int, int]) -> bytes:
    return struct.pack("<HH", *tag)


def _text(text: bytes) -> bytes:  # (0040,A160) Text Value, UT
    text += b" " * (len(text) % 2)
    return _tag((0x0040, 0xA160)) + b"UT\x00\x00" + struct.pack("<I", len(text)) + text


def _sequence(items: bytes, undefined: bool) -> bytes:  # (0040,A730) Content Sequence, SQ
    if undefined:
        return (_tag((0x0040, 0xA730)) + b"SQ\x00\x00" + struct.pack("<I", _UNDEFINED) + items
                + _tag(_SEQ_END) + struct.pack("<I", 0))
    return _tag((0x0040, 0xA730)) + b"SQ\x00\x00" + struct.pack("<I", len(items)) + items


def _item(body: bytes, undefined: bool) -> bytes:
    if undefined:
        return _tag(_ITEM) + struct.pack("<I", _UNDEFINED) + body + _tag(_ITEM_END) + struct.pack("<I", 0)
    return _tag(_ITEM) + struct.pack("<I", len(body)) + body


def nested_sequence(depth: int, *, text_bytes: int = 16, undefined: bool = False) -> bytes:
    """A Content Sequence element whose items nest ``depth`` levels, each with a Text Value."""
    body = _text(b"leaf" * (text_bytes // 4))
    for _ in range(depth - 1):
        body = _text(b"x" * text_bytes) + _sequence(_item(body, undefined), undefined)
    return _sequence(_item(body, undefined), undefined)


def deep_image(depth: int, *, text_bytes: int = 16, undefined: bool = False, seed: int = 0) -> bytes:
    """A valid small DX file with a Content Sequence nested ``depth`` levels (inserted before the pixels)."""
    ds = make_image(seed=seed)
    pixels = ds.PixelData
    del ds.PixelData
    head = to_bytes(ds)
    pixel_element = _tag((0x7FE0, 0x0010)) + b"OW\x00\x00" + struct.pack("<I", len(pixels)) + pixels
    return head + nested_sequence(depth, text_bytes=text_bytes, undefined=undefined) + pixel_element
