"""CLI: ``medvlm data build`` (synthetic DX films + manifest), ``medvlm data import`` (a hospital's own
studies and reports), ``medvlm data show`` (contact sheet), ``medvlm data audit`` (what a build teaches)."""

from __future__ import annotations

from pathlib import Path

import typer


def build(
    out: Path = typer.Option(..., "--out", help="Directory to write dicom/ and manifest.jsonl into."),
    n: int = typer.Option(..., "--n", help="Number of studies."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes the same dataset."),
    reports: str = typer.Option("mixed", "--reports", help="iu (real IU reports), template, or mixed."),
    size: int = typer.Option(512, "--size", help="Film size in pixels (square)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already in --out."),
    workers: int = typer.Option(
        1, "--workers", help="Render processes (films are the same for any count)."
    ),
    min_positives: int = typer.Option(
        0,
        "--min-positives",
        help="Train split: render extra films (new synthetic patients) of the reports of each finding "
        "with fewer train films than this, until it has this many. 0: off.",
    ),
    mirror: bool = typer.Option(
        False,
        "--mirror/--no-mirror",
        help="Render every second round of the rare-finding extra films mirrored (left and right "
        "swapped in the findings and the report), so a finding IU reports mostly on one side is seen "
        "on both (off by default: no gain measured, docs/performance.md).",
    ),
    vendor_looks: bool = typer.Option(
        False,
        "--vendor-looks/--no-vendor-looks",
        help="Draw each film's processing from two vendor looks and two scatter models, with a wider "
        "framing, so a model cannot lean on one look (off by default: a trade measured in "
        "docs/performance.md).",
    ),
    train_renders: int = typer.Option(
        1,
        "--train-renders",
        help="Render each train report this many times (a new synthetic patient each time); validation "
        "and test keep one film per report.",
    ),
    ct: list[Path] = typer.Option(
        [], "--ct", help="CT volume file or folder of them to render from as well as the default "
        "patient (repeatable)."
    ),
    holdout_ct: str = typer.Option(
        None, "--holdout-ct", help="CT patient id kept out of train/validation; its films of the test "
        "reports form split test_cross_patient (default: popi-4dct-00 when present)."
    ),
    laterals: bool = typer.Option(
        False, "--laterals", help="Give each study a left lateral film too (instance 2), as IU studies have."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Render N films showing known findings, paired with real or templated reports."""
    from medvlm.dataset.builder import build_dataset

    summary = build_dataset(
        out,
        n,
        seed=seed,
        reports=reports,
        size=size,
        overwrite=overwrite,
        progress=progress,
        workers=workers,
        min_positives=min_positives,
        mirror=mirror,
        vendor_looks=vendor_looks,
        train_renders=train_renders,
        ct=list(ct),
        holdout_ct=holdout_ct,
        laterals=laterals,
    )
    for line in summary.lines():
        typer.echo(line)

def import_(
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    studies: list[Path] = typer.Option([], "--studies", help="DICOM folder, zip or file (repeatable)."),
    pacs: str = typer.Option("", "--pacs", help="HOST:PORT of a PACS to query and retrieve."),
    called_ae: str = typer.Option("", "--called-ae", help="The PACS's AE title (with --pacs)."),
    date_from: str = typer.Option("", "--date-from", help="With --pacs: first study date, YYYYMMDD."),
    date_to: str = typer.Option("", "--date-to", help="With --pacs: last study date, YYYYMMDD."),
    modality: list[str] = typer.Option(["CR", "DX"], "--modality", help="With --pacs (repeatable)."),
    reports: list[Path] = typer.Option(
        [], "--reports", help="Report exports: CSV, JSONL, HL7 ORU^R01, DICOM SR, or folders of them "
        "(repeatable). SR documents inside --studies are read too."
    ),
    key_file: Path = typer.Option(..., "--key-file", help="De-identification key file (>= 16 bytes)."),
    window_days: int = typer.Option(1, "--window-days", help="Patient+date pairing: most days apart."),
    accept_unknown_burned_in: bool = typer.Option(
        False, "--accept-unknown-burned-in",
        help="CR/DX without a BurnedInAnnotation flag: the site has reviewed its sources (else refused).",
    ),
    service: bool = typer.Option(
        False, "--service", help="Also this installation's own signed reports with their stored images "
        "(MEDVLM_DATABASE_URL)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already in --out."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Import a hospital's chest radiographs with their signed reports: de-identified, labelled, split."""
    from medvlm.compliance.deid import DeidOptions
    from medvlm.dataset.errors import DatasetError
    from medvlm.dataset.importer import import_dataset
    from medvlm.dataset.importer.pacs import PacsSource
    from medvlm.settings import get_settings

    if window_days < 0:
        raise typer.BadParameter("--window-days must be 0 or more")
    if not studies and not pacs and not service:
        raise typer.BadParameter("give --studies, --pacs, --service, or several")
    source = None
    if pacs:
        host, _, port = pacs.rpartition(":")
        if not host or not port.isdigit() or not called_ae or not (date_from and date_to):
            raise typer.BadParameter("--pacs takes HOST:PORT with --called-ae, --date-from, --date-to")
        source = PacsSource(host, int(port), called_ae, date_from, date_to, tuple(modality))
    try:
        key = key_file.read_bytes().strip()
    except OSError as exc:
        raise DatasetError(f"cannot read the key file {key_file}: {exc.strerror}") from None
    accept = accept_unknown_burned_in or get_settings().deid_accept_unknown_burned_in
    stored, signed = _service_source() if service else ([], [])
    summary = import_dataset(out, [*studies, *stored], list(reports), key, window_days=window_days,
                             options=DeidOptions(accept_unknown_burned_in=accept),
                             overwrite=overwrite, progress=progress, pacs=source, extra_reports=signed)
    for line in summary.lines():
        typer.echo(line)

def _service_source() -> tuple[list[Path], list]:
    """The service's signed reports and their stored images (``medvlm.service.exports.signed_source``)."""
    from medvlm.db import get_engine, migrate
    from medvlm.service.exports.signed_source import signed_source

    migrate()  # a fresh installation has nothing signed yet, but the tables must exist
    return signed_source(get_engine())


def show(
    directory: Path = typer.Argument(..., help="A dataset directory (with manifest.jsonl)."),
    png: Path = typer.Option(..., "--png", help="Where to write the contact sheet PNG."),
    count: int = typer.Option(16, "--count", help="How many films."),
) -> None:
    """Draw a contact sheet of films with their ground-truth findings."""
    from medvlm.dataset.contact_sheet import contact_sheet

    if count < 1:
        raise typer.BadParameter("--count must be at least 1")
    typer.echo(f"wrote {contact_sheet(directory, png, count=count)}")

def audit(
    directory: Path = typer.Argument(..., help="A dataset directory (with manifest.jsonl)."),
    real: Path = typer.Option(None, "--real", help="Real films (PNG or DICOM) for the sheet."),
    out: Path = typer.Option(None, "--out", help="Where audit.json and contact_sheet.png go "
                             "(default: DIR/audit)."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Pixel-probe AUROC per finding, text overlap between splits, films per CT patient, contact sheet."""
    from medvlm.dataset.audit import audit_dataset

    for line in audit_dataset(directory, out=out, real=real, progress=progress).lines():
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add the ``data`` group to the top-level app."""
    data = typer.Typer(
        help="Build and inspect image-report datasets (synthetic films from a real CT).", no_args_is_help=True
    )
    data.command("build")(build)
    data.command("import")(import_)
    data.command("show")(show)
    data.command("audit")(audit)
    app.add_typer(data, name="data")
