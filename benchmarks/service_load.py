"""Service load benchmark: 10,000 studies in PostgreSQL, 32 concurrent clients, and upload-to-draft-ready.

    .venv/bin/python benchmarks/service_load.py [--studies 10000] [--clients 32] [--seconds 20]
                                                [--changes-per-s 10] [--think-ms 1000] [--uploads 3]
                                                [--api-processes N] [--model-dir DIR]

Starts a throwaway PostgreSQL cluster and a real ``medvlm serve`` process, ingests one real chest film
(pydicom-data's RG1_UNCR when installed, else pydicom's CT_small) and indexes it as the image of every
seeded study, then measures worklist / study detail / frame (PNG) requests from concurrent clients:
closed loop (the issue's load); again while study states change, so that cached worklist pages keep
being re-read; then with pauses between requests, as people read. Last, the time from upload to a ready
draft with an untrained ``tiny`` bundle (or ``--model-dir``). Prints figures and ratios to the targets;
asserts nothing about time. Every request is authenticated and audited, as in production. Clients run on
the same machine as the server and compete for its CPUs, so they are lean (hand-written keep-alive
HTTP/1.1 in one asyncio process) and their CPU share is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORKLIST_P95_TARGET_MS = 100.0
DRAFT_READY_TARGET_S = 2.0


def chest_film() -> Path:
    try:
        dist = importlib.metadata.distribution("pydicom-data")
        for entry in dist.files or []:
            if entry.name == "RG1_UNCR.dcm":
                return Path(str(dist.locate_file(entry)))
    except importlib.metadata.PackageNotFoundError:
        pass
    from pydicom.data import get_testdata_file

    return Path(str(get_testdata_file("CT_small.dcm")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str, settings, count: int) -> str:  # type: ignore[no-untyped-def]
    """Ingest one real film, then index ``count`` studies that show it; returns the film's SOP UID."""
    from sqlalchemy import bindparam, insert, select, text, update

    from medvlm.db import get_engine
    from medvlm.db.models import Instance, Patient, Series, Study
    from medvlm.dicom.ingest import ingest_paths
    from medvlm.service.db.tables import StudyState

    report = ingest_paths([chest_film()], settings=settings)
    assert report.ingested == 1, report.to_json()
    engine = get_engine(url)
    with engine.begin() as conn:
        film = conn.execute(select(Instance.__table__)).mappings().one()
        n_patients = max(1, count // 5)
        conn.execute(
            insert(Patient.__table__),
            [
                {
                    "patient_id": f"BP{i:06d}",
                    "issuer": "",
                    "name": f"Bench^Patient{i}",
                    "birth_date": "19600101",
                    "sex": "O",
                    "created_at": film["created_at"],
                }
                for i in range(n_patients)
            ],
        )
        pks = (
            conn.execute(select(Patient.id).where(Patient.patient_id.like("BP%")).order_by(Patient.id))
            .scalars()
            .all()
        )
        rng = random.Random(0)
        studies, series, instances, states = [], [], [], []
        for i in range(count):
            uid = f"1.2.826.0.1.3680043.10.1.{i}"
            studies.append(
                {
                    "study_instance_uid": uid,
                    "patient_pk": pks[i % len(pks)],
                    "study_date": f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                    "study_time": "101500",
                    "accession_number": f"BA{i:07d}",
                    "study_id": str(i),
                    "description": "CHEST PA",
                    "referring_physician": "",
                    "created_at": film["created_at"],
                }
            )
            series.append(
                {
                    "series_instance_uid": uid + ".1",
                    "study_instance_uid": uid,
                    "modality": "CR",
                    "series_number": 1,
                    "description": "",
                    "body_part": "CHEST",
                    "view_position": "PA",
                    "created_at": film["created_at"],
                }
            )
            instances.append({**film, "sop_instance_uid": uid + ".1.1", "series_instance_uid": uid + ".1"})
            states.append(
                {
                    "uid": uid,
                    "critical": rng.random() < 0.05,
                    "status": rng.choice(["draft_ready", "in_review", "signed", "draft_ready"]),
                }
            )
        for table, rows in ((Study, studies), (Series, series), (Instance, instances)):
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table.__table__), rows[start : start + 2000])
        # Each study's state row exists now (a trigger adds it as the study is indexed): set the workflow.
        state = StudyState.__table__
        conn.execute(
            update(state)
            .where(state.c.study_instance_uid == bindparam("uid"))
            .values(critical=bindparam("critical"), status=bindparam("status")),
            states,
        )
    if engine.dialect.name == "postgresql":
        # What autovacuum gives a database soon after a bulk load: fresh statistics, and pages marked
        # all-visible (index-only scans need them; the load below writes only audit rows).
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return str(film["sop_instance_uid"])


def make_user(url: str) -> tuple[str, str]:
    from medvlm.db import get_engine, session_scope
    from medvlm.service.api.routes.users import create_user

    password = secrets.token_urlsafe(16)
    with session_scope(get_engine(url)) as session:
        create_user(session, "bench", password, "radiologist")
    return "bench", password


def wait_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.3)


def _machine_busy_seconds() -> float:
    """CPU seconds all processes on this machine spent busy (user + system + ...), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class LeanClient:
    """One keep-alive HTTP/1.1 connection, spoken by hand: a few microseconds of CPU per request.

    The load generator shares the machine with the server, so a heavy client (a thread per client with
    httpx) would take the CPU it is measuring and add its own GIL queueing to every latency.
    """

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.headers = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        reused = self.writer is not None
        try:
            return await self._get(path)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection (uvicorn: after 5 s): reconnect, as browsers do.
            self.reader = self.writer = None
            return await self._get(path)

    async def _get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None and self.writer is not None
        self.writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.headers)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        sizes = [int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")]
        length = sizes[0] if sizes else None
        if length is None:
            raise SystemExit(f"{path}: answer without Content-Length (the lean client needs one)")
        await self.reader.readexactly(length)
        if any(line.lower() == b"connection: close" for line in lines):
            self.writer.close()
            self.reader = self.writer = None
        return status


def load(
    base: str, token: str, clients: int, seconds: float, count: int, film_sop: str, think_s: float = 0.0
) -> dict[str, list[float]]:
    """``clients`` concurrent keep-alive connections from one asyncio process; also CPU shares.

    ``think_s`` 0: each client sends its next request as soon as the last is answered (closed loop, the
    issue's load). Otherwise each client pauses a random time of that mean between requests, as a
    radiologist reading a film does.
    """
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    host, port = base.removeprefix("http://").split(":")

    async def client(seed_: int, stop_at: float) -> None:
        rng = random.Random(seed_)
        http = LeanClient(host, int(port), token)
        if think_s:  # people do not all click at the same instant: start spread over one pause
            await asyncio.sleep(rng.uniform(0, think_s))
        while time.monotonic() < stop_at:
            kind = rng.choice(["worklist", "study", "frame"])
            i = rng.randrange(count)
            if kind == "worklist":
                url = f"/api/v1/studies?page={rng.randint(1, 20)}&page_size=50"
                if rng.random() < 0.3:
                    url += "&status=draft_ready"
            elif kind == "study":
                url = f"/api/v1/studies/1.2.826.0.1.3680043.10.1.{i}"
            else:
                sop = f"1.2.826.0.1.3680043.10.1.{i}.1.1" if rng.random() < 0.5 else film_sop
                url = f"/api/v1/instances/{sop}/frames/0.png?max_size=512"
            start = time.perf_counter()
            status = await http.get(url)
            elapsed = time.perf_counter() - start
            if think_s:
                await asyncio.sleep(rng.expovariate(1 / think_s))
            if status == 200:
                latencies[kind].append(elapsed)
            else:
                errors[f"{kind} {status}"] += 1
        if http.writer is not None:
            http.writer.close()

    async def run_all() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(client(n, stop_at) for n in range(clients)))

    cpu0, busy0, t0 = time.process_time(), _machine_busy_seconds(), time.perf_counter()
    asyncio.run(run_all())
    wall = time.perf_counter() - t0
    client_cpu, busy = time.process_time() - cpu0, _machine_busy_seconds() - busy0
    latencies["_wall"] = [wall]
    latencies["_cpu"] = [client_cpu, busy, wall * (os.cpu_count() or 1)]
    if errors:
        print(f"  non-200 answers: {dict(errors)}")
    return latencies


class StateChanger:
    """Commits ``per_s`` workflow changes a second in a thread, as radiologists opening studies and the
    worker finishing drafts do: each moves the worklist version, so cached worklist pages are re-read."""

    def __init__(self, url: str, count: int, per_s: float) -> None:
        from sqlalchemy import text

        from medvlm.db import get_engine

        self.engine, self.count, self.per_s = get_engine(url), count, per_s
        self.statement = text(
            "UPDATE service_study_states SET status = CASE status WHEN 'in_review' THEN 'draft_ready' "
            "ELSE 'in_review' END WHERE study_instance_uid = :uid"
        )
        self.changes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng, next_at = random.Random(1), time.monotonic()
        while not self._stop.is_set():
            with self.engine.begin() as conn:
                conn.execute(self.statement, {"uid": f"1.2.826.0.1.3680043.10.1.{rng.randrange(self.count)}"})
            self.changes += 1
            next_at += 1 / self.per_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> StateChanger:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(result: dict[str, list[float]]) -> None:
    """Per request kind: count, p50, p95, requests/s; then where the machine's CPU went."""
    wall = result.pop("_wall")[0]
    client_cpu, busy, capacity = result.pop("_cpu")
    total = sum(len(v) for v in result.values())
    print(f"  {'request':<9} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7}")
    for kind in ("worklist", "study", "frame"):
        values = result.get(kind, [])
        if values:
            print(
                f"  {kind:<9} {len(values):>6} {pct(values, 0.5) * 1e3:>8.1f} "
                f"{pct(values, 0.95) * 1e3:>8.1f} "
                f"{len(values) / wall:>7.1f}"
            )
    print(f"  all       {total:>6} {'':>8} {'':>8} {total / wall:>7.1f}")
    print(
        f"  CPU: the client used {client_cpu:.1f} s = {100 * client_cpu / capacity:.0f}% of the "
        f"machine ({100 * client_cpu / max(busy, 1e-9):.0f}% of all busy CPU); machine busy "
        f"{100 * busy / capacity:.0f}%; load average {os.getloadavg()[0]:.1f}"
    )


FINAL_STATUSES = ("draft_ready", "failed", "not_drafted")  # not_drafted: the intended-use gate refused it


def film_bytes(study_uid: str) -> bytes:
    """The chest film (RG1 when pydicom-data is installed) as a new instance of ``study_uid``: a film the
    intended-use gate accepts, so the time is upload -> gate -> draft, as for a real study."""
    import io

    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(chest_film())
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def upload_to_ready(
    base: str, token: str, uploads: int, *, uid_prefix: str = "1.2.826.0.1.3680043.10.2", quiet: bool = False
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http:
        for n in range(uploads):
            uid = f"{uid_prefix}.{n}"
            start = time.perf_counter()
            r = http.post("/api/v1/studies", files=[("files", ("u.dcm", film_bytes(uid)))])
            assert r.status_code == 202, r.text
            while True:
                status = http.get(f"/api/v1/studies/{uid}").json()["status"]
                if status in FINAL_STATUSES:
                    break
                time.sleep(0.02)
            times.append(time.perf_counter() - start)
            if not quiet:
                print(f"  upload {n + 1}: {status} after {times[-1]:.2f} s")
    return times


def model_only(model_dir: Path, runs: int) -> float:
    """Median seconds of the drafter alone on the uploaded film: what no service change can remove."""
    from medvlm.service.jobs.drafter import BundleDrafter

    drafter = BundleDrafter(model_dir)
    drafter.warm()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "u.dcm"
        path.write_bytes(film_bytes("1.2.826.0.1.3680043.10.3.1"))
        times = []
        for _ in range(max(1, runs)):
            start = time.perf_counter()
            drafter.draft([path])
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--uploads", type=int, default=3)
    parser.add_argument(
        "--changes-per-s", type=float, default=10.0, help="closed loop with study states changing (0: skip)"
    )
    parser.add_argument("--think-ms", type=float, default=1000.0, help="pass with pauses (0: skip it)")
    parser.add_argument("--api-processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model-dir", type=Path, help="a saved bundle (default: an untrained tiny one)")
    args = parser.parse_args()

    from medvlm.db import migrate
    from medvlm.settings import Settings
    from tests.support.postgres import running_postgres

    with tempfile.TemporaryDirectory(prefix="medvlm-bench-") as tmp, running_postgres() as pg:
        if pg is None:
            raise SystemExit("PostgreSQL (initdb/postgres) is not installed")
        url = pg.create_database()
        migrate(url)
        secret = secrets.token_urlsafe(48)
        settings = Settings(
            data_dir=Path(tmp) / "data", database_url=url, environment="production", secret_key=secret
        )
        t = time.perf_counter()
        film_sop = seed(url, settings, args.studies)
        print(
            f"seeded {args.studies} studies in PostgreSQL in {time.perf_counter() - t:.1f} s "
            f"(image: {chest_film().name})"
        )
        username, password = make_user(url)

        model_dir = args.model_dir
        if model_dir is None:
            from medvlm.model import build_model
            from medvlm.ontology import load_ontology

            model_dir = Path(tmp) / "tiny"
            build_model("tiny", load_ontology(), seed=0).save(model_dir)
        port = free_port()
        env = {
            **os.environ,
            "MEDVLM_DATABASE_URL": url,
            "MEDVLM_DATA_DIR": str(settings.data_dir),
            "MEDVLM_ENVIRONMENT": "production",
            "MEDVLM_SECRET_KEY": secret,
            "MEDVLM_MODEL_DIR": str(model_dir),
            "PYTHONPATH": str(REPO),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "medvlm",
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-draft-pending",
                "--api-processes",
                str(args.api_processes),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_up(base, proc)
            token = httpx.post(
                f"{base}/api/v1/auth/login", json={"username": username, "password": password}
            ).json()["access_token"]
            # One untimed draft first: the model is loaded (and its imports done) before the load starts,
            # as in a service that has been up for a while.
            upload_to_ready(base, token, 1, uid_prefix="1.2.826.0.1.3680043.10.4", quiet=True)
            print(
                f"\n{args.clients} concurrent clients for {args.seconds:.0f} s, each sending its next "
                "request when the last is answered (worklist / study / frame mix):"
            )
            result = load(base, token, args.clients, args.seconds, args.studies, film_sop)
            report(result)
            if result.get("worklist"):
                p95 = pct(result["worklist"], 0.95) * 1e3
                print(
                    f"  worklist p95 / target {WORKLIST_P95_TARGET_MS:.0f} ms = "
                    f"{p95 / WORKLIST_P95_TARGET_MS:.2f}"
                )
            if args.changes_per_s:
                print(
                    f"\nthe same, while {args.changes_per_s:.0f} study states change per second (each change "
                    "moves the worklist version, so worklist pages are read from the database again):"
                )
                with StateChanger(url, args.studies, args.changes_per_s) as changer:
                    changed = load(base, token, args.clients, args.seconds, args.studies, film_sop)
                changed_wall = changed["_wall"][0]
                report(changed)
                print(f"  {changer.changes} changes committed ({changer.changes / changed_wall:.1f}/s)")
            if args.think_ms:
                print(
                    f"\n{args.clients} clients pausing {args.think_ms:.0f} ms on average between requests "
                    "(people reading, not a closed loop):"
                )
                think_s = args.think_ms / 1e3
                report(load(base, token, args.clients, args.seconds, args.studies, film_sop, think_s))

            if args.uploads:  # --uploads 0: the load passes only
                print(f"\nupload -> draft ready ({args.uploads} uploads, model {model_dir}):")
                times = upload_to_ready(base, token, args.uploads)
                median = statistics.median(times)
                print(
                    f"  median {median:.2f} s; median / target {DRAFT_READY_TARGET_S:.0f} s = "
                    f"{median / DRAFT_READY_TARGET_S:.2f}"
                )
                model_s = model_only(model_dir, args.uploads)
                print(
                    f"  the model alone (in this process, warm, same film): median {model_s:.2f} s, so the "
                    f"service adds {median - model_s:+.2f} s"
                )
            print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
