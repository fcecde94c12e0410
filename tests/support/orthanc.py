"""A real PACS for integration tests: Debian's Orthanc, in a network namespace that has only loopback.

Orthanc 1.10 binds 0.0.0.0 and has no bind option, so it runs inside ``ip netns`` (nothing outside the
namespace can reach it, and its fixed ports cannot collide with anything on the host). The test's own
network code must run in the same namespace: ``inside(server)`` moves the calling thread there (a
network namespace is per thread on Linux; sockets keep the namespace they were created in), so a DICOM
listener started inside it is reachable by Orthanc, and REST / DICOM clients created inside it reach
Orthanc. Orthanc is stopped by its PID and the namespace deleted afterwards.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.services import find_executable

_CLONE_NEWNET = 0x40000000
HTTP_PORT = 8042
DICOM_PORT = 4242
AE_TITLE = "ORTHANC"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"  # Debian orthanc-dicomweb


@dataclass
class OrthancServer:
    netns: str
    process: subprocess.Popen[bytes]
    directory: Path
    http_port: int = HTTP_PORT
    dicom_port: int = DICOM_PORT
    ae_title: str = AE_TITLE

    def rest(self, method: str, path: str, body: bytes | dict[str, Any] | str | None = None,
             timeout: float = 30.0) -> Any:
        """Call Orthanc's REST API (from a thread inside the namespace); JSON answers are decoded."""
        data = json.dumps(body).encode() if isinstance(body, dict) else (
            body.encode() if isinstance(body, str) else body)
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        if response.headers.get_content_type() == "application/json":
            return json.loads(raw)
        return raw

    def log_tail(self, lines: int = 30) -> str:
        log = self.directory / "orthanc.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def inside(server: OrthancServer) -> Iterator[None]:
    """Run the calling thread's network code in Orthanc's namespace; back to the host's afterwards."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{server.netns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def _config(directory: Path, modalities: dict[str, tuple[str, str, int]],
            plugins: list[str] | None = None) -> dict[str, Any]:
    storage = directory / "storage"
    return {
        "Name": "medvlm-test-pacs",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "HttpPort": HTTP_PORT,
        "DicomPort": DICOM_PORT,
        "DicomAet": AE_TITLE,
        "DicomCheckCalledAet": True,
        "AuthenticationEnabled": False,
        "RemoteAccessAllowed": False,  # loopback only, and the namespace has nothing else
        "DicomModalities": {name: list(entry) for name, entry in modalities.items()},
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "Plugins": plugins or [],  # e.g. DICOMWEB_PLUGIN: DICOMweb at /dicom-web/
        "StorageCompression": False,
        "ConcurrentJobs": 1,
        "DicomScuTimeout": 10,
    }


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@contextmanager
def running_orthanc(directory: Path, modalities: dict[str, tuple[str, str, int]],
                    plugins: list[str] | None = None) -> Iterator[OrthancServer | None]:
    """Orthanc with ``modalities`` (name -> (AE title, host, port)) registered; None when Orthanc or
    network namespaces are unavailable (the caller skips or fails, see ``missing_service``)."""
    exe = find_executable("Orthanc", "/usr/sbin")
    if exe is None or find_executable("ip", "/usr/sbin", "/sbin") is None:
        yield None
        return
    netns = f"medvlm-orthanc-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    if _ip("netns", "add", netns).returncode != 0:  # needs CAP_SYS_ADMIN
        yield None
        return
    process: subprocess.Popen[bytes] | None = None
    try:
        if _ip("netns", "exec", netns, "ip", "link", "set", "lo", "up").returncode != 0:
            yield None
            return
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "orthanc.json"
        config.write_text(json.dumps(_config(directory, modalities, plugins), indent=2))
        with (directory / "orthanc.log").open("wb") as log:
            # `ip netns exec` execs Orthanc, so this PID is Orthanc's own
            process = subprocess.Popen(["ip", "netns", "exec", netns, exe, str(config)], stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = OrthancServer(netns=netns, process=process, directory=directory)
        _wait_ready(server)
        yield server
    finally:
        if process is not None:
            _stop(process)
        _ip("netns", "delete", netns)


def _wait_ready(server: OrthancServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with inside(server):
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {server.process.returncode}:\n{server.log_tail()}")
            with suppress(OSError, urllib.error.URLError):
                if server.rest("GET", "/system", timeout=2).get("DicomAet") == AE_TITLE:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc not ready within {timeout} s:\n{server.log_tail()}")
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
