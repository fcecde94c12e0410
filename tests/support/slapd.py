"""A throwaway OpenLDAP server (Debian ``slapd``) on 127.0.0.1 for the directory sign-on tests.

A generated ``slapd.conf`` (mdb backend, the core / cosine / inetorgperson schemas) and LDIF are loaded
offline with ``slapadd``, then ``slapd`` serves them on a free loopback port; stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, stop_process
from tests.support.services import find_executable

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
READER_DN = f"cn=reader,ou=services,{SUFFIX}"
READER_PASSWORD = "reader-secret"
_MODULES = "/usr/lib/ldap"
_SCHEMA = "/etc/ldap/schema"


@dataclass
class SlapdServer:
    url: str
    pid: int
    root: Path

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change as the root DN (``ldapmodify``), e.g. to move a user between groups."""
        subprocess.run(
            ["ldapmodify", "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
            timeout=20,
        )


def _config(data: Path) -> str:
    schemas = "\n".join(
        f"include {_SCHEMA}/{name}.schema" for name in ("core", "cosine", "inetorgperson", "nis")
    )
    return f"""{schemas}
modulepath {_MODULES}
moduleload back_mdb
pidfile {data.parent}/slapd.pid
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {data}
access to attrs=userPassword by self auth by anonymous auth by * none
access to * by dn.exact="{READER_DN}" read by self read by * none
"""


def _person(uid: str, password: str) -> str:
    return (
        f"dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\n"
        f"sn: {uid}\nuserPassword: {password}\n"
    )


def _group(cn: str, *members: str) -> str:
    lines = "".join(f"member: uid={m},ou=people,{SUFFIX}\n" for m in members)
    return f"dn: cn={cn},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}"


def directory_ldif(people: dict[str, str], groups: dict[str, list[str]]) -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example Hospital\n",
        *(
            f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n"
            for ou in ("people", "groups", "services")
        ),
        f"dn: {READER_DN}\nobjectClass: person\ncn: reader\nsn: reader\nuserPassword: {READER_PASSWORD}\n",
        *(_person(uid, password) for uid, password in people.items()),
        *(_group(cn, *members) for cn, members in groups.items()),
    ]
    return "\n".join(entries)


def slapd_available() -> bool:
    return bool(
        find_executable("slapd", "/usr/sbin")
        and find_executable("slapadd", "/usr/sbin")
        and shutil.which("ldapmodify")
        and os.path.exists(f"{_MODULES}/back_mdb.so")
    )


@contextmanager
def running_slapd(ldif: str) -> Iterator[SlapdServer]:
    slapd, slapadd = find_executable("slapd", "/usr/sbin"), find_executable("slapadd", "/usr/sbin")
    assert slapd and slapadd, "call slapd_available() first"
    root = Path(tempfile.mkdtemp(prefix="medvlm-slapd-"))
    data = root / "data"
    data.mkdir()
    conf = root / "slapd.conf"
    conf.write_text(_config(data))
    (root / "data.ldif").write_text(ldif)
    subprocess.run(
        [slapadd, "-f", str(conf), "-l", str(root / "data.ldif")], check=True, capture_output=True, timeout=60
    )
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    log = open(root / "slapd.log", "wb")  # noqa: SIM115
    # -d 0: stay in the foreground (so the PID is slapd's own), logging nothing but errors.
    proc = subprocess.Popen(
        [slapd, "-f", str(conf), "-h", f"{url}/", "-d", "0"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(["ldapwhoami", "-x", "-H", url], capture_output=True, timeout=10).returncode != 0
        ):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not start: {(root / 'slapd.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield SlapdServer(url=url, pid=proc.pid, root=root)
    finally:
        stop_process(proc, timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
