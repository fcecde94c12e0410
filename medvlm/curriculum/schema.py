"""The curriculum file as pydantic models (``extra="forbid"``: an unknown key is an error, not ignored).

Cross-field checks that need only the file live here; checks against the data directory and the model
(sources that exist, answer lengths that fit the context) live in ``validate.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from medvlm.curriculum.self_supervised import SelfSupervisedStage

Mode = Literal["frozen", "full", "lora"]
StageKind = Literal["encoder", "introduction", "specialism", "corrections"]
EvalTask = Literal["findings", "qa", "report", "loss"]
INPUTS = ("frontal", "lateral", "indication")  # = medvlm.model.configuration.INPUTS (tested equal)

# What each evaluation task measures; ``select_on`` must be one of the metrics of the stage's tasks.
TASK_METRICS: dict[str, dict[str, str]] = {
    # macro_auroc_supported: over findings with >= 10 eval positives (classification.supported_macro)
    "findings": {"findings.macro_auroc": "max", "findings.macro_auroc_supported": "max",
                 "findings.macro_f1": "max"},
    "qa": {"qa.accuracy": "max"},
    # prompt_f1 / prompt_additions: the draft against the findings it was prompted with (the text alone)
    "report": {"report.ce_f1": "max", "report.hallucination_rate": "min", "report.prompt_f1": "max",
               "report.prompt_additions": "min"},
    "loss": {"loss": "min"},
}
# Which modules a stage kind can train, and which it needs trainable to learn anything at all.
KIND_TRAINS: dict[str, set[str]] = {
    "encoder": {"vision", "findings_head"},
    "introduction": {"vision", "projector", "language"},
    "specialism": {"vision", "projector", "language"},
    "corrections": {"vision", "projector", "language", "findings_head"},
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(Strict):
    """A manifest-format dataset (``manifest.jsonl``) under the ``--data`` directory."""

    kind: Literal["manifest", "corrections"] = "manifest"
    path: str = "."  # relative to --data
    split: Literal["train", "validation", "test"] = "train"
    # iu / template: rendered films (medvlm data build); import: a hospital's own studies (medvlm data
    # import); correction: signed corrections
    report_source: list[Literal["iu", "template", "import", "correction"]] | None = None  # None = any
    required: bool = True  # False: a missing source skips the stages that need it (corrections)
    limit: int | None = Field(default=None, ge=1)
    # another source to use when this one has no data (no manifest, or no records of its split): e.g.
    # validate on the imported real films when an import exists, else on the rendered ones
    fallback: str | None = None


class Modules(Strict):
    vision: Mode = "frozen"
    projector: Mode = "frozen"
    language: Mode = "frozen"
    findings_head: Mode = "frozen"

    def trainable(self) -> set[str]:
        return {name for name, mode in self.model_dump().items() if mode != "frozen"}


class Lora(Strict):
    r: int = Field(default=16, ge=1, le=256)
    alpha: float = Field(default=32.0, gt=0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        min_length=1,
    )


class TeachText(Strict):
    """Corrected sentences train the language model (LoRA / full) on the FINAL text."""

    # share of the stage's text examples drawn from the earlier sources (replay against forgetting)
    replay_fraction: float = Field(default=0.5, ge=0.0, lt=1.0)


class TeachFindings(Strict):
    """Corrected finding states (presence, side, severity) train the findings head and its thresholds."""

    replay_fraction: float = Field(default=0.5, ge=0.0, lt=1.0)
    weight: float = Field(default=1.0, gt=0.0, le=100.0)  # findings loss weight beside the text loss
    # re-tune the presence threshold of every finding a correction changed (on eval source + corrections)
    retune_thresholds: bool = True
    threshold_beta: float = Field(default=1.0, gt=0.0, le=10.0)


class Teach(Strict):
    """What a corrections stage learns from each correction; an absent part is not trained."""

    findings: TeachFindings | None = None
    text: TeachText | None = None


# Presence thresholds are tuned once, after an encoder stage; elsewhere these keys would do nothing.
_ENCODER_THRESHOLD_KEYS = frozenset({"threshold_beta", "threshold_min_positives", "sparse_threshold"})


class Stage(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: StageKind
    sources: list[str] = Field(min_length=1)
    # share of each source in the stage's training examples (e.g. real 3, rendered 1: three real films
    # per rendered one); absent: every record of every source once per epoch. A corrections stage weighs
    # its replayed sources (the corrections' own share is replay_fraction).
    mix: dict[str, float] | None = None
    eval_source: str | None = None
    templates: str | None = None  # question templates (introduction), relative to the curriculum file
    modules: Modules
    lora: Lora | None = None
    steps: int = Field(ge=1, le=1_000_000)
    batch_size: int = Field(default=16, ge=1, le=4096)
    # micro-batches per optimiser step: batch_size is split into this many forward/backward passes
    grad_accumulation: int = Field(default=1, ge=1, le=1024)
    lr: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)
    warmup_steps: int = Field(default=0, ge=0)
    max_answer_tokens: int = Field(default=16, ge=1, le=4096)
    negatives_per_record: int = Field(default=2, ge=0, le=64)
    replay_fraction: float = Field(default=0.5, ge=0.0, le=1.0)  # corrections without teach: text replay
    # corrections: what each correction trains (findings head + thresholds, text) and its replay share
    teach: Teach | None = None
    # specialism / corrections: extra examples per abnormal record whose target is its findings written in
    # the ontology's phrases (0 = the real report text only)
    rendered_reports: int = Field(default=0, ge=0, le=8)
    # encoder: presence thresholds maximise F-beta on the eval source; beta < 1 weighs precision higher,
    # i.e. fewer hallucinated findings in drafts at the cost of some omissions
    threshold_beta: float = Field(default=1.0, gt=0.0, le=10.0)
    # encoder: a finding with fewer eval-source positives than this gets a threshold of at least
    # sparse_threshold (an F-beta cut-off picked on a handful of cases swings between seeds; 0 = off)
    threshold_min_positives: int = Field(default=0, ge=0)
    sparse_threshold: float = Field(default=0.9, gt=0.0, lt=1.0)
    # encoder: weight of the localization term, which teaches the findings head's detail map where the
    # dataset recorded each granuloma / nodule / mass (0 = presence labels only)
    localize: float = Field(default=0.0, ge=0.0, le=100.0)
    # encoder: weight of the outline term, which teaches the tower each drawn finding's whole extent from
    # the build's masks, through a training-only map (medvlm.training.outline_targets); 0 = none
    outline: float = Field(default=0.0, ge=0.0, le=100.0)
    # encoder: weight of an auxiliary regression of the measures a rendered film records (its drawn
    # cardiothoracic ratio, each side's effusion level; medvlm.training.measures); 0 = none
    measures: float = Field(default=0.0, ge=0.0, le=100.0)
    # encoder: gradient-reversal scale of a classifier of the film's CT patient on the findings head's
    # features (medvlm.training.patient_adversary); 0 = none
    patient_adversary: float = Field(default=0.0, ge=0.0, le=100.0)
    eval_every: int = Field(default=100, ge=1)
    eval_samples: int = Field(default=128, ge=1)
    checkpoint_every: int = Field(default=50, ge=1)
    eval_tasks: list[EvalTask] = Field(min_length=1)
    select_on: str
    augment: bool = True
    # with augment: the standard deviation of a smooth random log-gain field over each film (0 = none;
    # medvlm.training.images.augment)
    bias_field: float = Field(default=0.0, ge=0.0, le=1.0)
    # what the stage's examples read of a study (medvlm.model.configuration.INPUTS): the frontal film
    # always; ``lateral`` where a study has one; ``indication`` (the request's reason) in the prompt
    inputs: list[str] = Field(default_factory=lambda: ["frontal"])

    @model_validator(mode="after")
    def _consistent(self) -> Stage:
        unknown = [i for i in self.inputs if i not in INPUTS]
        if unknown:
            raise ValueError(
                f"stage {self.name!r}: unknown input(s) {unknown}; expected some of {list(INPUTS)}"
            )
        if "frontal" not in self.inputs:
            raise ValueError(f"stage {self.name!r}: inputs must include 'frontal', got {self.inputs}")
        metrics = {m for task in self.eval_tasks for m in TASK_METRICS[task]}
        if self.select_on not in metrics:
            raise ValueError(
                f"stage {self.name!r}: select_on {self.select_on!r} is not measured by eval_tasks "
                f"{self.eval_tasks}; choose one of {sorted(metrics)}"
            )
        trainable = self.modules.trainable()
        if not trainable:
            raise ValueError(f"stage {self.name!r} trains nothing: every module is frozen")
        extra = trainable - KIND_TRAINS[self.kind]
        if extra:
            raise ValueError(
                f"stage {self.name!r} ({self.kind}) cannot train {sorted(extra)}: its loss does not reach "
                f"them; it can train {sorted(KIND_TRAINS[self.kind])}"
            )
        lora_modes = [n for n, m in self.modules.model_dump().items() if m == "lora"]
        if set(lora_modes) - {"language"}:
            raise ValueError(f"stage {self.name!r}: only 'language' can be lora, got {lora_modes}")
        if self.grad_accumulation > self.batch_size:
            raise ValueError(
                f"stage {self.name!r}: grad_accumulation {self.grad_accumulation} is larger than batch_size "
                f"{self.batch_size}; each micro-batch needs at least one example"
            )
        if self.warmup_steps >= self.steps:
            raise ValueError(f"stage {self.name!r}: warmup_steps {self.warmup_steps} >= steps {self.steps}")
        for key in ("localize", "outline", "measures", "patient_adversary"):
            if getattr(self, key) and self.kind != "encoder":
                raise ValueError(
                    f"stage {self.name!r}: {key} applies to encoder stages only, not {self.kind}"
                )
        thresholds = sorted(self.model_fields_set & _ENCODER_THRESHOLD_KEYS)
        if thresholds and self.kind != "encoder":
            raise ValueError(
                f"stage {self.name!r}: {', '.join(thresholds)} apply to encoder stages only, not {self.kind}"
            )
        self._check_teach(trainable)
        if self.mix is not None:
            self._check_mix()
        if self.kind == "introduction" and not self.templates:
            raise ValueError(f"stage {self.name!r}: an introduction stage needs question templates")
        return self

    def _check_teach(self, trainable: set[str]) -> None:
        if self.teach is not None and self.kind != "corrections":
            raise ValueError(f"stage {self.name!r}: teach applies to corrections stages only, "
                             f"not {self.kind}")
        if self.kind != "corrections":
            return
        if self.teach is None:  # the older form: corrected text only, replay_fraction of replay
            if "findings_head" in trainable:
                raise ValueError(f"stage {self.name!r}: findings_head trains only with teach.findings "
                                 "(say how much replay it uses)")
            return
        if "replay_fraction" in self.model_fields_set:
            raise ValueError(f"stage {self.name!r}: with teach, give replay_fraction under teach.findings / "
                             "teach.text, not on the stage")
        text_modules = trainable & {"projector", "language"}
        checks = [
            (self.teach.findings is not None, "findings_head" in trainable,
             "teach.findings needs modules.findings_head: full",
             "findings_head trains only with teach.findings"),
            (self.teach.text is not None, bool(text_modules),
             "teach.text needs a trainable language / projector module",
             f"{sorted(text_modules)} train only with teach.text"),
        ]
        for taught, trains, needs, only in checks:
            if taught and not trains:
                raise ValueError(f"stage {self.name!r}: {needs}")
            if trains and not taught:
                raise ValueError(f"stage {self.name!r}: {only}")
        if self.teach.findings is None and self.teach.text is None:
            raise ValueError(f"stage {self.name!r}: teach names neither findings nor text")

    def text_replay(self) -> float:
        """Replay share of a corrections stage's text examples."""
        if self.teach is None:
            return self.replay_fraction
        return self.teach.text.replay_fraction if self.teach.text else 0.0

    def _check_mix(self) -> None:
        mix = self.mix or {}
        weighed = self.sources[1:] if self.kind == "corrections" else self.sources
        if set(mix) != set(weighed):
            corrections = self.kind == "corrections"
            note = " (a corrections stage weighs its replayed sources only)" if corrections else ""
            raise ValueError(f"stage {self.name!r}: mix must weigh exactly the sources {sorted(weighed)}, "
                             f"got {sorted(mix)}{note}")
        bad = sorted(name for name, weight in mix.items() if not weight > 0)
        if bad:
            raise ValueError(f"stage {self.name!r}: mix weights must be > 0, not for {bad}")

    def direction(self) -> str:
        for task in self.eval_tasks:
            if self.select_on in TASK_METRICS[task]:
                return TASK_METRICS[task][self.select_on]
        return "max"


class ModelSection(Strict):
    preset: str = "tiny"
    # auto: bf16 autocast on a GPU that has it (else fp16 with loss scaling); a CPU always trains in fp32
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, ~30% slower
    # 4bit: QLoRA (bitsandbytes NF4 base weights under the LoRA stages); needs a CUDA GPU and bitsandbytes
    quantize: Literal["none", "4bit"] = "none"


def _stage_tag(value: Any) -> str:
    """The self-supervised stage has its own schema; every other kind is a ``Stage`` (unknown kinds too,
    so their error reads as before)."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "self_supervised" if kind == "self_supervised" else "supervised"


AnyStage = Annotated[
    Annotated[Stage, Tag("supervised")] | Annotated[SelfSupervisedStage, Tag("self_supervised")],
    Discriminator(_stage_tag),
]
STAGE_TAGS = ("supervised", "self_supervised")  # what pydantic puts in an error's location


class Curriculum(Strict):
    name: str
    description: str = ""
    seed: int = 0
    model: ModelSection = ModelSection()
    data: dict[str, DataSource] = Field(min_length=1)
    stages: list[AnyStage] = Field(min_length=1)

    @property
    def inputs(self) -> list[str]:
        """Every input some stage reads, in INPUTS order: what the trained model records and drafts with."""
        used = {i for stage in self.stages for i in stage.inputs}
        return [i for i in INPUTS if i in used]

    @model_validator(mode="after")
    def _references(self) -> Curriculum:
        for name, source in self.data.items():
            if source.fallback is not None and source.fallback not in self.data:
                raise ValueError(f"data source {name!r}: fallback {source.fallback!r} is not defined "
                                 f"(defined: {sorted(self.data)})")
            chained = source.fallback is not None and self.data[source.fallback].fallback is not None
            if source.fallback == name or chained:
                raise ValueError(f"data source {name!r}: fallback {source.fallback!r} must be another source "
                                 "without a fallback of its own")
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique, repeated: {dupes}")
        for stage in self.stages:
            if isinstance(stage, SelfSupervisedStage):  # reads a folder of films, not data sources
                continue
            for src in [*stage.sources, *([stage.eval_source] if stage.eval_source else [])]:
                if src not in self.data:
                    raise ValueError(
                        f"stage {stage.name!r} names data source {src!r}, which the curriculum's data "
                        f"section does not define (defined: {sorted(self.data)})"
                    )
            needs_eval = set(stage.eval_tasks) - {"loss"}
            if needs_eval and not stage.eval_source:
                raise ValueError(f"stage {stage.name!r}: eval_tasks {sorted(needs_eval)} need an eval_source")
        return self
