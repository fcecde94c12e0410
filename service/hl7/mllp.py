"""MLLP (HL7 Minimal Lower Layer Protocol) client: one framed message out, one framed ACK back.

Frame: <VT> message <FS><CR>. The ACK is checked the way HL7 original mode defines it: MSA-1 ``AA`` (or
enhanced ``CA``) accepted; ``AE`` / ``CE`` application error (the receiver may accept it later: retry);
``AR`` / ``CR`` rejected (the same message will be rejected again: do not retry). An ACK whose MSA-2 is
not our MSH-10 acknowledges some other message and counts as no answer.
"""

from __future__ import annotations

import socket

from medvlm.service.hl7.errors import Hl7DeliveryError

START, END = b"\x0b", b"\x1c\x0d"
MAX_ACK_BYTES = 1024 * 1024
ACCEPTED, ERROR, REJECTED = frozenset({"AA", "CA"}), frozenset({"AE", "CE"}), frozenset({"AR", "CR"})


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


def read_frame(sock: socket.socket) -> bytes:
    """Bytes between <VT> and <FS><CR>; raises ``ConnectionError`` if the peer closes first."""
    buffer = b""
    while END not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed before a complete MLLP frame arrived")
        buffer += chunk
        if len(buffer) > MAX_ACK_BYTES:
            raise ConnectionError(f"MLLP frame over {MAX_ACK_BYTES} bytes")
    start = buffer.find(START)
    if start < 0:
        raise ConnectionError("MLLP frame without the <VT> start byte")
    return buffer[start + 1 : buffer.index(END, start)]


def check_ack(ack: str, control_id: str) -> str:
    """MSA-1 of an ACK for ``control_id``; raises ``Hl7DeliveryError`` unless it is an accept."""
    segments = {line.split("|", 1)[0]: line for line in ack.replace("\n", "\r").split("\r") if line}
    msa = segments.get("MSA")
    if "MSH" not in segments or msa is None:
        raise Hl7DeliveryError(f"the answer is not an HL7 ACK (no MSH/MSA segment): {ack[:80]!r}", retry=True)
    fields = msa.split("|")
    code = fields[1] if len(fields) > 1 else ""
    acked = fields[2] if len(fields) > 2 else ""
    text = fields[3] if len(fields) > 3 else ""
    if acked != control_id:
        raise Hl7DeliveryError(f"the ACK is for message {acked!r}, not {control_id!r}", retry=True)
    if code in ACCEPTED:
        return code
    detail = f" ({text})" if text else ""
    if code in ERROR:
        raise Hl7DeliveryError(f"the receiver answered {code}: application error{detail}", retry=True,
                               ack_code=code)
    if code in REJECTED:
        raise Hl7DeliveryError(f"the receiver answered {code}: message rejected{detail}", retry=False,
                               ack_code=code)
    raise Hl7DeliveryError(f"the ACK has an unknown MSA-1 code {code!r}", retry=True)


def send(host: str, port: int, message: str, control_id: str, *, timeout: float) -> str:
    """Deliver one message and return its accepting ACK code; ``Hl7DeliveryError`` otherwise."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(frame(message))
            ack = read_frame(sock).decode("utf-8", errors="replace")
    except (OSError, ConnectionError) as exc:  # refused, reset, timed out, closed without an ACK
        raise Hl7DeliveryError(f"no ACK from {host}:{port}: {type(exc).__name__}: {exc}", retry=True) from exc
    return check_ack(ack, control_id)
