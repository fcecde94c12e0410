"""Check a curriculum against the data directory and the model before any training step runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medvlm.curriculum.loader import LoadedCurriculum
from medvlm.curriculum.schema import DataSource, Stage
from medvlm.curriculum.self_supervised import SelfSupervisedStage
from medvlm.errors import CurriculumError, MedVLMError

PROMPT_ALLOWANCE = 48  # tokens for the rendered findings / question around the image tokens
INDICATION_ALLOWANCE = 32  # = BundleConfig.indication_tokens (the default the runner uses)


@dataclass
class Plan:
    """Stages to run, stages skipped (with why), and the records of every available source."""

    run: list[Stage | SelfSupervisedStage] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    records: dict[str, list] = field(default_factory=dict)
    substituted: dict[str, str] = field(default_factory=dict)  # source without data -> its fallback


def source_records(name: str, source: DataSource, data_dir: Path) -> list | None:
    """Records of one source, or None when an optional source is absent."""
    from medvlm.training.manifest import read_records

    directory = (data_dir / source.path).resolve()
    manifest = directory / "manifest.jsonl"
    required = source.required and source.fallback is None
    if not manifest.is_file():
        if required:
            raise CurriculumError(
                f"data source {name!r}: {manifest} does not exist (build it with `medvlm data build`)"
            )
        return None
    try:
        records = read_records(directory)
    except MedVLMError as exc:
        raise CurriculumError(f"data source {name!r}: {exc}") from None
    records = [r for r in records if r.split == source.split] if source.kind == "manifest" else records
    if source.report_source:
        records = [r for r in records if r.report_source in source.report_source]
    if source.limit:
        records = records[: source.limit]
    if not records and required:
        raise CurriculumError(
            f"data source {name!r}: no records with split {source.split!r}"
            + (f" and report_source {source.report_source}" if source.report_source else "")
            + f" in {manifest}"
        )
    return records or None


def plan_curriculum(loaded: LoadedCurriculum, data_dir: Path, max_positions: int, image_tokens: int) -> Plan:
    cur = loaded.curriculum
    if not data_dir.is_dir():
        raise CurriculumError(f"data directory {data_dir} does not exist")
    plan = Plan()
    for name, source in cur.data.items():
        records = source_records(name, source, data_dir)
        if records is not None:
            plan.records[name] = records
    for name, source in cur.data.items():
        if name not in plan.records and source.fallback:
            if source.fallback in plan.records:
                plan.records[name] = plan.records[source.fallback]
                plan.substituted[name] = source.fallback
            elif source.required:
                raise CurriculumError(
                    f"data source {name!r} and its fallback {source.fallback!r} have no data")
    for stage in cur.stages:
        if isinstance(stage, SelfSupervisedStage):
            why = _films_problem(stage, data_dir)
            if why and stage.required:
                raise CurriculumError(f"stage {stage.name!r}: {why}")
            if why:
                plan.skipped[stage.name] = why
            else:
                plan.run.append(stage)
            continue
        # a lateral doubles the image tokens; the indication takes up to its token budget
        stage_images = image_tokens * (2 if "lateral" in stage.inputs else 1)
        extra = INDICATION_ALLOWANCE if "indication" in stage.inputs else 0
        budget = stage_images + PROMPT_ALLOWANCE + extra + stage.max_answer_tokens
        if stage.kind in ("introduction", "specialism", "corrections") and budget > max_positions:
            raise CurriculumError(
                f"stage {stage.name!r}: max_answer_tokens {stage.max_answer_tokens} + {stage_images} image "
                f"tokens + prompt exceed the model's context of {max_positions} tokens"
            )
        absent = [s for s in stage.sources if s not in plan.records]
        if absent:
            plan.skipped[stage.name] = f"optional data source {absent[0]!r} has no data"
            continue
        if stage.eval_source and stage.eval_source not in plan.records:
            raise CurriculumError(f"stage {stage.name!r}: eval_source {stage.eval_source!r} has no data")
        plan.run.append(stage)
    if not plan.run:
        raise CurriculumError(f"{loaded.path}: no stage has data to train on")
    return plan


def _films_problem(stage: SelfSupervisedStage, data_dir: Path) -> str | None:
    """Why the stage's films folder cannot be used, or None."""
    from medvlm.training.films import list_films

    folder = (data_dir / stage.films).resolve()
    if not folder.is_dir():
        return f"films folder {folder} does not exist (films: is relative to --data, or absolute)"
    found = len(list_films(folder, stage.limit))
    if found < 2:
        return f"films folder {folder} holds {found} PNG or DICOM films; masked-image training needs two"
    return None


def data_hash(loaded: LoadedCurriculum, data_dir: Path) -> str:
    """What a model card records as its data: ``manifest_hash`` of the data directory when that is the
    only source directory with a manifest (as before), else one sha256 over each such directory's
    manifest hash, so a curriculum mixing an import, rendered films and corrections pins all of them."""
    import hashlib

    from medvlm.dataset.manifest import MANIFEST, manifest_hash

    root = data_dir.resolve()
    folders = sorted({(root / s.path).resolve() for s in loaded.curriculum.data.values()})
    folders = [f for f in folders if (f / MANIFEST).is_file()]
    if folders in ([root], []):
        return manifest_hash(data_dir)
    parts = [f"{f.relative_to(root) if f.is_relative_to(root) else f}:{manifest_hash(f)}" for f in folders]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
