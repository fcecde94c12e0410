"""A throwaway PostgreSQL cluster on 127.0.0.1: ``initdb`` + ``postgres``, stopped by PID."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.processes import free_port, stop_process


def _pg_bin_dir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if os.access(os.path.join(directory, "initdb"), os.X_OK):
            return directory
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


@dataclass
class PostgresServer:
    port: int
    pid: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_postgres_user() -> dict:
    """initdb refuses to run as root: drop to the ``postgres`` system user when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        return {}
    return {"user": entry.pw_uid, "group": entry.pw_gid}


@contextmanager
def running_postgres() -> Iterator[PostgresServer | None]:
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        yield None
        return
    drop = _as_postgres_user()
    root = tempfile.mkdtemp(prefix="medvlm-pg-")
    os.chmod(root, 0o777)
    data = os.path.join(root, "data")
    if drop:
        os.chown(root, drop["user"], drop["group"])
    subprocess.run([os.path.join(bin_dir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, **drop)
    port = free_port()
    log = open(os.path.join(root, "server.log"), "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [os.path.join(bin_dir, "postgres"), "-D", data, "-p", str(port), "-c", "listen_addresses=127.0.0.1",
         "-c", f"unix_socket_directories={root}", "-c", "fsync=off", "-c", "max_connections=200"],
        stdout=log, stderr=subprocess.STDOUT, **drop)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start; see {root}/server.log") from None
                time.sleep(0.1)
        time.sleep(0.3)
        yield PostgresServer(port=port, pid=proc.pid)
    finally:
        stop_process(proc, signal.SIGQUIT)  # immediate shutdown: the cluster is thrown away anyway
        log.close()
        shutil.rmtree(root, ignore_errors=True)
