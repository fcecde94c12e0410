"""``medvlm pacs echo|send|listen``: real associations; errors are one line and exit code 1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medvlm.cli.main import app
from medvlm.pacs import scu
from medvlm.service.dicom_listener.listener import ListenerHandle
from medvlm.settings import Settings

runner = CliRunner()


def test_echo_and_send(listener: ListenerHandle, testdata: Callable[[str], Path]) -> None:
    port = str(listener.port)
    echoed = runner.invoke(app, ["pacs", "echo", "127.0.0.1", port, "--called-ae", "MEDVLM"])
    assert echoed.exit_code == 0 and "C-ECHO MEDVLM at 127.0.0.1" in echoed.output
    sent = runner.invoke(app, ["pacs", "send", "127.0.0.1", port, str(testdata("CT_small.dcm")),
                               str(testdata("MR_small.dcm")), "--called-ae", "MEDVLM"])
    assert sent.exit_code == 0, sent.output
    assert "sent 2 instance(s) to MEDVLM" in sent.output


@pytest.mark.parametrize(("args", "message"), [
    (["echo", "127.0.0.1", "{port}", "--called-ae", "OTHER"], "called AE title not recognized"),
    (["send", "127.0.0.1", "{port}", "{rtplan}", "--called-ae", "MEDVLM"], "1 of 1 instance(s) not stored"),
    (["send", "127.0.0.1", "{port}", "{text}", "--called-ae", "MEDVLM"], "not a readable DICOM file"),
    (["echo", "127.0.0.1", "{port}", "--ae-title", "A\\B"], "invalid AE title"),
])
def test_errors_are_one_line_exit_1(listener: ListenerHandle, testdata: Callable[[str], Path], tmp_path: Path,
                                    args: list[str], message: str) -> None:
    text = tmp_path / "report.txt"
    text.write_text("not dicom")
    values = {"port": str(listener.port), "rtplan": str(testdata("rtplan.dcm")), "text": str(text)}
    result = runner.invoke(app, ["pacs", *(a.format(**values) for a in args)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0]


def test_listen_runs_until_terminated(sqlite_settings: Settings, testdata: Callable[[str], Path]) -> None:
    env = {**os.environ, "MEDVLM_DATA_DIR": str(sqlite_settings.data_dir),
           "MEDVLM_DATABASE_URL": sqlite_settings.resolved_database_url, "MEDVLM_ENVIRONMENT": "test"}
    proc = subprocess.Popen([sys.executable, "-m", "medvlm", "pacs", "listen", "--port", "0", "--ae-title",
                             "READER1"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline() for _ in range(1)]
        while not lines[-1].startswith("listening") and lines[-1]:  # stops at the line or at EOF
            lines.append(proc.stderr.readline())
        match = re.search(r"listening as READER1 on 127\.0\.0\.1:(\d+)", lines[-1])
        assert match, lines
        scu.send("127.0.0.1", int(match.group(1)), [testdata("CT_small.dcm")], called_ae="READER1")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert "association from MEDVLM ended: 1 stored, 0 failed, 1 job(s)" in rest
    assert "stopped after 1 association(s)" in rest


def test_listen_on_a_busy_port_fails_cleanly(listener: ListenerHandle) -> None:
    result = runner.invoke(app, ["pacs", "listen", "--port", str(listener.port)])
    assert result.exit_code == 1
    assert f"error: cannot listen on 127.0.0.1:{listener.port}" in result.output
