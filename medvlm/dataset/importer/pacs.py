"""Studies from the PACS for an import: C-FIND by date range and modality, C-GET each study into a folder
(the query / retrieve client the priors use, ``medvlm.pacs.query``), then imported like any folder.

Each study lands in ``FOLDER/<n>/`` through a temporary folder renamed when all its instances are written,
so a rerun after a crash skips the studies already there and fetches the rest.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from medvlm.dataset.importer.progress import bar
from medvlm.pacs.query import find_studies_between, retrieve_study


@dataclass(frozen=True)
class PacsSource:
    host: str
    port: int
    called_ae: str
    date_from: str  # YYYYMMDD
    date_to: str
    modalities: tuple[str, ...] = ("CR", "DX")
    calling_ae: str = "MEDVLM"


def retrieve(source: PacsSource, folder: Path, progress: bool = False) -> int:
    """Fetch every matching study not yet in ``folder``; returns how many studies the folder holds."""
    uids: list[str] = []
    for modality in source.modalities:
        for match in find_studies_between(source.host, source.port, date_from=source.date_from,
                                          date_to=source.date_to, modality=modality,
                                          called_ae=source.called_ae, calling_ae=source.calling_ae):
            if match.study_instance_uid not in uids:
                uids.append(match.study_instance_uid)
    folder.mkdir(parents=True, exist_ok=True)
    with bar(progress, len(uids), "retrieving studies from the PACS") as step:
        for uid in uids:
            # folder names carry no identifier: a hash of the UID (the folder may outlive the import)
            target = folder / hashlib.sha256(uid.encode()).hexdigest()[:24]
            if not target.is_dir():
                partial = target.with_suffix(".partial")
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir()
                instances = retrieve_study(source.host, source.port, uid, called_ae=source.called_ae,
                                           calling_ae=source.calling_ae)
                for n, data in enumerate(instances):
                    (partial / f"{n:05d}.dcm").write_bytes(data)
                partial.rename(target)
            step()
    return len(uids)
