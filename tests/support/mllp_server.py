"""A small real MLLP listener (its own process, on 127.0.0.1) that answers each HL7 message with an ACK.

``python -m tests.support.mllp_server PORT LOG [ANSWER ...]``: the n-th message gets the n-th answer
(``AA``, ``AE``, ``AR``: an ACK with that MSA-1; ``close``: hang up without answering; ``other``: an ACK
for another control id), and ``AA`` once the list is used up. Each message and what it got is appended to
LOG as one JSON line. ``running_mllp_server`` starts it and stops it by PID.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, stop_process

START, END = b"\x0b", b"\x1c\x0d"


def _ack(message: str, code: str) -> bytes:
    fields = message.split("\r", 1)[0].split("|")
    control_id = fields[9] if len(fields) > 9 else ""
    if code == "other":
        control_id, code = control_id + "X", "AA"
    sender, facility = (fields[2], fields[3]) if len(fields) > 3 else ("", "")
    text = {"AE": "|temporarily unavailable", "AR": "|unsupported message"}.get(code, "")
    ack = (f"MSH|^~\\&|RIS|HOSP|{sender}|{facility}|20250101000000||ACK^R01^ACK|ACK{control_id}|P|2.5.1\r"
           f"MSA|{code}|{control_id}{text}\r")
    return START + ack.encode() + END


def serve(port: int, log: Path, answers: list[str]) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    count = 0
    while True:
        conn, _ = listener.accept()
        with conn:
            buffer = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while END in buffer:
                    raw, buffer = buffer.split(END, 1)
                    message = raw[raw.index(START) + 1 :].decode("utf-8")
                    answer = answers[count] if count < len(answers) else "AA"
                    count += 1
                    with log.open("a") as out:
                        out.write(json.dumps({"message": message, "answer": answer}) + "\n")
                    if answer == "close":
                        break
                    conn.sendall(_ack(message, answer))
                else:
                    continue
                break


@dataclass
class MllpServer:
    port: int
    log: Path
    pid: int

    def received(self) -> list[dict[str, str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@contextmanager
def running_mllp_server(tmp: Path, answers: list[str] | None = None) -> Iterator[MllpServer]:
    port, log = free_port(), tmp / "mllp.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.mllp_server", str(port), str(log),
                             *(answers or [])])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the MLLP test listener did not start (exit {proc.poll()})") from None
                time.sleep(0.05)
        yield MllpServer(port=port, log=log, pid=proc.pid)
    finally:
        stop_process(proc, timeout=5)


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
