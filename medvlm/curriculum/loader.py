"""Load and validate a curriculum file: every problem is one ``CurriculumError`` raised before training."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from medvlm.curriculum.schema import STAGE_TAGS, Curriculum
from medvlm.errors import CurriculumError


@dataclass(frozen=True)
class LoadedCurriculum:
    curriculum: Curriculum
    path: Path
    sha256: str

    def resolve(self, relative: str) -> Path:
        """A path named in the curriculum (templates), relative to the curriculum file."""
        return (self.path.parent / relative).resolve()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    # a stage's location carries the union tag (stages.0.supervised.lr): leave it out (stages.0.lr)
    loc = [
        p for i, p in enumerate(err["loc"]) if not (i == 2 and err["loc"][0] == "stages" and p in STAGE_TAGS)
    ]
    where = ".".join(str(p) for p in loc) or "top level"
    if err["type"] == "extra_forbidden":
        return f"unknown key at {where}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where != "top level" else message


def load_curriculum(path: Path | str) -> LoadedCurriculum:
    path = Path(path)
    if not path.is_file():
        raise CurriculumError(f"curriculum file {path} does not exist")
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise CurriculumError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise CurriculumError(f"{path} must hold a mapping with 'name', 'data' and 'stages'")
    try:
        curriculum = Curriculum.model_validate(raw)
    except ValidationError as exc:
        count = len(exc.errors())
        more = f" (+{count - 1} more)" if count > 1 else ""
        raise CurriculumError(f"{path}: {_first_error(exc)}{more}") from None
    loaded = LoadedCurriculum(curriculum, path.resolve(), hashlib.sha256(raw_bytes).hexdigest())
    for stage in curriculum.stages:
        templates = getattr(stage, "templates", None)  # the self-supervised stage has none
        if templates and not loaded.resolve(templates).is_file():
            raise CurriculumError(
                f"{path}: stage {stage.name!r} names templates {templates!r}, "
                f"but {loaded.resolve(templates)} does not exist"
            )
    return loaded
