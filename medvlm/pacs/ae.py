"""Application Entity titles: shared by the client (``medvlm.pacs.scu``) and the service's listener."""

from __future__ import annotations

from medvlm.pacs.errors import ListenerError

DEFAULT_AE_TITLE = "MEDVLM"
DEFAULT_PORT = 11112


def validate_ae_title(ae_title: str) -> str:
    """An AE title is 1-16 characters of printable ASCII without backslash (PS3.5 6.2, AE)."""
    title = ae_title.strip()
    if not 1 <= len(title) <= 16 or not all(32 <= ord(c) < 127 and c != "\\" for c in title):
        raise ListenerError(f"invalid AE title {ae_title!r}: 1-16 printable ASCII characters, no backslash")
    return title
