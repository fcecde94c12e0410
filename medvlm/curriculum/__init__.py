"""Curricula: YAML stage definitions validated before training (``load_curriculum``, ``plan_curriculum``)."""

from medvlm.curriculum.loader import LoadedCurriculum, load_curriculum
from medvlm.curriculum.schema import Curriculum, DataSource, Modules, Stage
from medvlm.curriculum.self_supervised import SelfSupervisedStage
from medvlm.curriculum.validate import Plan, plan_curriculum

__all__ = [
    "Curriculum",
    "DataSource",
    "LoadedCurriculum",
    "Modules",
    "Plan",
    "SelfSupervisedStage",
    "Stage",
    "load_curriculum",
    "plan_curriculum",
]
