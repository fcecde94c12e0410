"""The service's own signed reports, with their stored images, imported as training data (``medvlm data
import --service``): through the real service (SQLite and PostgreSQL), the real importer and the gate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from medvlm.cli.main import app
from medvlm.dataset.importer import import_dataset
from medvlm.dataset.manifest import read_manifest
from medvlm.findings import Presence
from medvlm.service.exports.signed_source import signed_source
from medvlm.synth.hospital import film
from tests.medvlm.dataset.importer.archive import fake_study, pixels
from tests.service.helpers import run_jobs

API = "/api/v1"
KEY = b"service-source-key-0123456789"
IMPRESSION = "Discussed with Dr. Okafor on 2021-03-04. Small left pleural effusion."


def _film_bytes(i: int) -> tuple[str, bytes]:
    study = fake_study(i)
    ds = film(study, pixels(i, 128))
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return str(ds.StudyInstanceUID), buffer.getvalue()


@pytest.fixture(scope="module")
def films() -> dict[int, tuple[str, bytes]]:
    """Rendered once for both databases (the atlas comes from the default data folder's cache)."""
    return {i: _film_bytes(i) for i in (1, 2)}


def _ingest(client: TestClient, worker: object, h: dict, film_: tuple[str, bytes], *, sign: bool) -> str:
    uid, data = film_
    upload = client.post(f"{API}/studies", files=[("files", ("f.dcm", data, "x"))], headers=h)
    assert upload.status_code == 202
    assert run_jobs(worker) == 1
    rid = client.get(f"{API}/studies/{uid}/report", headers=h).json()["id"]
    edit = client.put(f"{API}/reports/{rid}", json={"base_version": 1, "findings_text": "Heart normal.",
                                                    "impression": IMPRESSION}, headers=h)
    assert edit.status_code == 200, edit.text
    if sign:
        assert client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=h).status_code == 200
    return uid


def test_signed_reports_import_with_their_images(service: tuple[TestClient, object, dict], tmp_path: Path,
                                                 films: dict[int, tuple[str, bytes]]) -> None:
    client, worker, h = service
    engine = client.app.state.engine  # type: ignore[attr-defined]
    signed_uid = _ingest(client, worker, h, films[1], sign=True)
    _ingest(client, worker, h, films[2], sign=False)  # a draft is not a report the site stands behind

    files, reports = signed_source(engine)
    assert [r.study_uid for r in reports] == [signed_uid] and reports[0].fmt == "service"
    assert len(files) == 1 and files[0].is_file()
    assert "rad1" in reports[0].names  # the signer's name goes along to be scrubbed from the text

    summary = import_dataset(tmp_path / "imported", files, [], KEY, progress=False, extra_reports=reports)
    assert summary.imported == 1, summary.lines()
    (record,) = read_manifest(tmp_path / "imported")
    assert record.provenance["report_format"] == "service"
    assert record.study_instance_uid != signed_uid  # de-identified UID
    assert "Okafor" not in record.impression and "2021-03-04" not in record.impression
    effusion = {f.label: f for f in record.findings}["pleural_effusion"]
    assert effusion.presence is Presence.PRESENT

    # the same through the command line, which reads MEDVLM_DATABASE_URL
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    result = CliRunner().invoke(app, ["data", "import", "--out", str(tmp_path / "cli"), "--service",
                                      "--key-file", str(key_file), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "imported 1 studies" in result.output
