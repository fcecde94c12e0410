"""``medvlm demo``: the main job end to end on the embedded default.

Builds demo studies (synthetic films paired with real IU report language), trains the default ``tiny``
model or reuses the one already trained, promotes it, ingests the held-out demo studies and the real chest
films shipped with ``pydicom-data``, queues their drafts, and serves the API, the drafting worker and the
review UI. Every step is skipped when its output is already there, so a second run starts serving at once.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import typer

from medvlm.package_data import QUICK_CURRICULUM

DEMO_USER = "radiologist"
DEMO_PASSWORD = "reading-room-demo"  # development only: refused outside MEDVLM_ENVIRONMENT=development
REAL_CHEST_FILMS = ("RG1_UNCI.dcm",)


def _real_chest_films() -> list[Path]:
    """The real CR chest films of the pydicom-data wheel, located as files (never fetched)."""
    try:
        dist = importlib.metadata.distribution("pydicom-data")
    except importlib.metadata.PackageNotFoundError:
        return []
    return [Path(str(dist.locate_file(f))) for f in dist.files or [] if Path(str(f)).name in REAL_CHEST_FILMS]


def _step(message: str) -> None:
    typer.secho(f"==> {message}", fg=typer.colors.CYAN, bold=True)


def _ensure_dataset(root: Path, studies: int, size: int) -> Path:
    from medvlm.dataset.builder import build_dataset
    from medvlm.dataset.manifest import MANIFEST

    dataset = root / "dataset"
    if (dataset / MANIFEST).exists():
        _step(f"demo studies: reusing {dataset}")
        return dataset
    _step(f"demo studies: rendering {studies} films with real IU report language into {dataset}")
    summary = build_dataset(dataset, n=studies, seed=0, reports="iu", size=size)
    typer.echo(f"    {summary.written} studies in {summary.seconds:.0f} s")
    return dataset


def _ensure_model(model_dir: Path, dataset: Path, curriculum: Path, retrain: bool) -> bool:
    """Train (or reuse) and register the demo model; True when it passed the promotion floors."""
    from medvlm.errors import PromotionRefusedError
    from medvlm.registry.registry import list_versions, promote, register_version
    from medvlm.training.runner import TrainOptions, train

    if retrain or not (model_dir / "model_card.json").exists():
        _step(f"model: training {curriculum} on {dataset} into {model_dir}")
        resume = (model_dir / "training").exists() and not retrain
        train(TrainOptions(curriculum, dataset, model_dir, preset=None, resume=resume, progress=True))
    else:
        _step(f"model: reusing {model_dir}")
    registered = {Path(v.model_dir).resolve(): v for v in list_versions()}
    version = registered.get(model_dir.resolve()) or register_version(model_dir)
    if version.status != "production":
        try:
            version = promote(version.id)
        except PromotionRefusedError as exc:
            typer.secho(f"    {exc}", fg=typer.colors.YELLOW)
            typer.secho(f"    serving {version.id} as an UNVALIDATED model: every draft is marked "
                        "\"unvalidated model\" (train with curricula/chest_xr.yaml for one that passes)",
                        fg=typer.colors.YELLOW, bold=True)
            return False
    typer.echo(f"    production model {version.id} ({version.preset})")
    return True


def _ingest_and_queue(dataset: Path, count: int) -> int:
    from medvlm.dataset.manifest import read_manifest
    from medvlm.db import get_engine
    from medvlm.service.intake.intake import Actor, intake, queue_undrafted
    from medvlm.settings import get_settings

    records = [r for r in read_manifest(dataset) if r.split == "test"][:count]
    paths = [Path(f) for r in records for f in r.files] + _real_chest_films()
    _step(f"ingest: {len(paths)} DICOM files ({len(records)} held-out demo studies + real chest films)")
    settings = get_settings()
    report = intake(settings, Actor("cli:demo", "cli"), paths, progress=True)  # audited like any ingest
    typer.echo(f"    ingested {report.ingested}, already there {report.duplicates}, "
               f"rejected {len(report.rejected)}")
    # Only studies without a draft: a second run must not redraft what is drafted (or being reviewed).
    return queue_undrafted(get_engine(settings.resolved_database_url), settings)


def _ensure_demo_user() -> None:
    from sqlmodel import select

    from medvlm.db import session_scope
    from medvlm.service.api.routes.users import create_user
    from medvlm.service.db.tables import User

    with session_scope() as session:
        if session.exec(select(User).where(User.username == DEMO_USER)).first() is None:
            create_user(session, DEMO_USER, DEMO_PASSWORD, "radiologist")


def demo_command(
    studies: int = typer.Option(400, "--studies", min=40, help="Demo studies to render (train/val/test)."),
    review: int = typer.Option(12, "--review", min=1, help="Held-out studies to ingest and draft."),
    size: int = typer.Option(256, "--size", help="Film size in pixels (the tiny model reads 256 px)."),
    curriculum: Path = typer.Option(
        QUICK_CURRICULUM, "--curriculum", help="Training curriculum (quick: minutes)."
    ),
    retrain: bool = typer.Option(False, "--retrain", help="Train again even if the demo model exists."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API and UI at the end."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Demo studies in, drafts out, service and UI up (each step reuses what an earlier run made)."""
    from medvlm.db import migrate
    from medvlm.errors import ConfigError
    from medvlm.settings import get_settings

    settings = get_settings()
    if settings.environment != "development":
        raise ConfigError("medvlm demo creates a demo login and is for MEDVLM_ENVIRONMENT=development only")
    migrate(settings.resolved_database_url)
    root = settings.data_dir / "demo"
    dataset = _ensure_dataset(root, studies, size)
    model_dir = settings.models_dir / "demo-tiny"
    if not _ensure_model(model_dir, dataset, curriculum, retrain):
        # Below the floors the registry has no production model: pin this one for the demo's drafter,
        # which then marks each draft's model version "(unvalidated model)" (review page, exports).
        os.environ["MEDVLM_MODEL_DIR"] = str(model_dir.resolve())
        get_settings.cache_clear()
    queued = _ingest_and_queue(dataset, review)
    _ensure_demo_user()
    typer.echo(f"    {queued} draft job(s) queued; the worker drafts them once the service is up")
    if not serve:
        return
    from medvlm.cli.serve import serve_command

    _step(f"serving: open http://{host}:{port} and log in as {DEMO_USER} / {DEMO_PASSWORD}")
    serve_command(host=host, port=port, workers=1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
