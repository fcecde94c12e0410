"""deploy/: the rendered nginx site passes ``nginx -t`` and proxies TLS to a running ``medvlm serve`` started
from the API unit's own command line; the systemd units pass ``systemd-analyze verify``."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shlex
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from typer.testing import CliRunner

from medvlm.cli.main import app as cli
from medvlm.settings import Settings, get_settings
from tests.support.processes import free_port, stop_process, wait_healthy
from tests.support.services import find_executable, missing_service

RAD_PASSWORD = "lantern violet shore 63"  # one the password policy accepts

REPO = Path(__file__).resolve().parents[2]
SECRET = "deploy-test-secret-" + "x" * 40


def _render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("medvlm_deploy_render", REPO / "deploy" / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _render()


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """An install prefix whose ``.venv`` is this environment, as ``/opt/medvlm/.venv`` is on a host."""
    root = tmp_path / "opt-medvlm"
    root.mkdir()
    (root / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    return root


def _exec_start(unit: str) -> list[str]:
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_units_verify(prefix: Path, tmp_path: Path) -> None:
    analyze = find_executable("systemd-analyze")
    if analyze is None:
        missing_service("systemd-analyze")
    units = render.render_units(str(prefix))
    assert set(units) == {"medvlm-api.service", "medvlm-worker.service", "medvlm-dicom.service"}
    for name, text in units.items():
        (tmp_path / name).write_text(text)
        assert f"{prefix}/.venv/bin/python -m medvlm" in text
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / n) for n in units)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize("unit", ["medvlm-worker.service", "medvlm-dicom.service"])
def test_unit_commands_exist(unit: str) -> None:
    """The worker and listener command lines parse (``--help`` after them: unknown options would fail)."""
    argv = _exec_start(render.render_units()[unit])
    result = subprocess.run(
        [sys.executable, *argv[1:], "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("server_name", "a b", "contains a space"),
        ("cert", "/x;evil", "contains"),
        ("upstream", "", "empty"),
        ("max_body", "1g}", "contains"),
    ],
)
def test_render_refuses_unsafe_values(field: str, value: str, match: str) -> None:
    values = {"server_name": "medvlm.local", "cert": "/c.pem", "key": "/k.pem", field: value}
    with pytest.raises(render.RenderError, match=match):
        render.render_nginx(**values)


def test_render_cli_reports_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy" / "render.py"),
            "--server-name",
            "bad name",
            "--cert",
            "/c",
            "--key",
            "/k",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and result.stderr.startswith("error: --server-name")
    assert not (tmp_path / "nginx").exists()  # nothing half-written


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "medvlm.crt", directory / "medvlm.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _retry(call: Callable[[], httpx.Response], seconds: float = 20) -> httpx.Response:
    """nginx takes a moment to listen after it starts."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _main_conf(tmp: Path, site: Path) -> Path:
    """What /etc/nginx/nginx.conf gives the site on a host, with every path inside ``tmp``."""
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir()
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(f"""{user}daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {site};
}}
""")
    return conf


@pytest.fixture
def api(sqlite_settings: Settings, prefix: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``medvlm serve`` started exactly as medvlm-api.service starts it, on a free loopback port."""
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    command = ["users", "add", "rad", "--role", "radiologist", "--password", RAD_PASSWORD]
    added = CliRunner().invoke(cli, command)
    assert added.exit_code == 0, added.output
    argv = _exec_start(render.render_units(str(prefix))["medvlm-api.service"])
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(proc)


def test_nginx_terminates_tls_in_front_of_the_service(api: str, tmp_path: Path) -> None:
    nginx = find_executable("nginx", "/usr/sbin")
    if nginx is None or not find_executable("openssl"):
        missing_service("nginx and openssl")
    cert, key = _self_signed(tmp_path)
    https_port, http_port = free_port(), free_port()
    site = tmp_path / "medvlm.conf"
    site.write_text(
        render.render_nginx(
            server_name="127.0.0.1",
            cert=str(cert),
            key=str(key),
            upstream=api,
            https_listen=f"127.0.0.1:{https_port}",
            http_listen=f"127.0.0.1:{http_port}",
        )
    )
    conf = _main_conf(tmp_path, site)
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr
    proc = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        base = f"https://127.0.0.1:{https_port}"
        with httpx.Client(base_url=base, verify=trust, timeout=30) as client:
            health = _retry(lambda: client.get("/health"))
            assert health.status_code == 200, health.text
            assert health.headers["strict-transport-security"].startswith("max-age=")
            login = client.post("/api/v1/auth/login", json={"username": "rad", "password": RAD_PASSWORD})
            assert login.status_code == 200, login.text
            token = {"Authorization": f"Bearer {login.json()['access_token']}"}
            me = client.get("/api/v1/auth/me", headers=token)
            assert me.status_code == 200 and me.json()["username"] == "rad"
            assert client.get("/api/v1/auth/me").status_code == 401  # the service's answer, passed through
        plain = httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=10)
        assert plain.status_code == 301
        assert plain.headers["location"] == f"https://127.0.0.1:{https_port}/health"
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the certificate stops
            httpx.get(f"{base}/health", timeout=10)
    finally:
        stop_process(proc, timeout=10)
