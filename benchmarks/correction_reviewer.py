"""The benchmark's reviewer through the service: upload, draft with the production model, correct to the
truth and sign over the HTTP API, then ``export_corrections`` (de-identified) - the path a site takes.

Used by ``benchmarks/correction_loop.py --reviewer api``; one fresh service database per call.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pydicom

API = "/api/v1"
PASSWORD = "harbour quill meadow 27"


def review_via_api(records: list[dict], model_dir: Path, work: Path, selection: str, n: int,
                   seed: int = 0) -> tuple[Path, list[int]]:
    """Upload every record of the pool, let the production model draft them, choose ``n`` by
    ``selection`` ("uncertainty": the worklist's ``order=uncertainty`` as a researcher reads it over the
    API; "random"), correct those to the truth and sign them. Returns the export folder (manifest.jsonl +
    de-identified DICOM, records in signing order) and the chosen records' indices, in that order."""
    import random

    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from medvlm.compliance.deid import DeidOptions
    from medvlm.db import migrate
    from medvlm.service.api.routes.users import create_user
    from medvlm.service.app import create_app
    from medvlm.service.exports.corrections import export_corrections
    from medvlm.service.jobs.drafter import BundleDrafter
    from medvlm.service.jobs.worker import Worker
    from medvlm.settings import Settings

    work.mkdir(parents=True)
    settings = Settings(environment="test", data_dir=work / "var",
                        database_url=f"sqlite:///{work / 'service.db'}", secret_key="benchmark-" + "s" * 40)
    migrate(settings.resolved_database_url)
    app = create_app(settings, drafter=BundleDrafter(model_dir))
    uids = [str(pydicom.dcmread(r["files"][0], stop_before_pixels=True).StudyInstanceUID) for r in records]
    with TestClient(app) as client:
        with Session(app.state.engine) as session:
            create_user(session, "reviewer", PASSWORD, "radiologist")
            session.commit()
        token = client.post(f"{API}/auth/login", json={"username": "reviewer", "password": PASSWORD})
        h = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for record in records:
            ds = pydicom.dcmread(record["files"][0])
            ds.BurnedInAnnotation = "NO"  # drawn films carry no text; the export refuses unknowns
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            files = [("files", ("f.dcm", buffer.getvalue(), "application/dicom"))]
            assert client.post(f"{API}/studies", files=files, headers=h).status_code == 202
        worker = Worker(app.state.engine, app.state.drafter, worker_id="bench", lease=timedelta(minutes=5))
        while worker.run_once():
            pass
        # the drawn films are not radiographs, and the intended-use gate says so: the reviewer asks for
        # the drafts anyway (the audited override a radiologist has), as a site would for such a study
        for uid in uids:
            if client.get(f"{API}/studies/{uid}/report", headers=h).status_code == 404:
                body = {"override_intended_use": True, "reason": "benchmark: drawn films"}
                assert client.post(f"{API}/studies/{uid}/draft", json=body, headers=h).status_code == 202
        while worker.run_once():
            pass
        if selection == "uncertainty":
            page = client.get(f"{API}/studies", params={"order": "uncertainty", "page_size": n}, headers=h)
            chosen = [uids.index(item["study_instance_uid"]) for item in page.json()["items"]]
        else:
            chosen = random.Random(seed).sample(range(len(records)), n)
        for i in chosen:
            record = records[i]
            response = client.get(f"{API}/studies/{uids[i]}/report", headers=h)
            if response.status_code != 200:
                raise RuntimeError(f"study {uids[i]} has no draft to correct: {response.text}")
            report = response.json()
            body = {"base_version": report["version"], "findings": record["findings"] or [],
                    "findings_text": record["findings_text"], "impression": record["impression"]}
            edited = client.put(f"{API}/reports/{report['id']}", json=body, headers=h)
            assert edited.status_code == 200, edited.text
            signed = client.post(f"{API}/reports/{report['id']}/sign", json={"confirm": True}, headers=h)
            assert signed.status_code == 200, signed.text
    export = export_corrections(work / "corrections", b"benchmark-deid-key-0123456789",
                                engine=app.state.engine, actor="benchmark:reviewer",
                                options=DeidOptions(accept_unknown_burned_in=False))
    app.state.engine.dispose()
    if export.exported != n:
        raise RuntimeError(f"exported {export.exported} of {n} signed studies: {export.skipped}")
    return work / "corrections", chosen


def corrections_subset(export_dir: Path, n: int, target: Path) -> None:
    """The first ``n`` exported records (signing order) as a corrections dataset at ``target``."""
    lines = (export_dir / "manifest.jsonl").read_text().splitlines()[:n]
    target.mkdir(parents=True)
    records = []
    for line in lines:
        record = json.loads(line)
        record["files"] = [str((export_dir / f).resolve()) for f in record["files"]]
        records.append(json.dumps(record))
    (target / "manifest.jsonl").write_text("".join(r + "\n" for r in records))


def as_correction(record: dict, draft: object, **changes: object) -> dict:
    """``record`` (the truth: FINAL) as a corrections-export record whose ORIGINAL is ``draft`` (a
    ``DraftResult``), for the in-process reviewer (the API reviewer gets these from the real export)."""
    original = {"findings": [f.to_dict() for f in draft.findings  # type: ignore[attr-defined]
                             if str(f.presence.value) != "absent"],
                "findings_text": draft.findings_text, "impression": draft.impression}  # type: ignore[attr-defined]
    provenance = {"source": "benchmark reviewer", "original": original}
    return {**record, **changes, "report_source": "correction", "provenance": provenance}
