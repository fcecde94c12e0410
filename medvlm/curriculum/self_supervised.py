"""The self-supervised stage: the vision encoder learns unlabelled films' appearance before any labels.

```yaml
- name: films
  kind: self_supervised
  objective: masked_image     # SimMIM/MAE-style: hide patches, reconstruct their pixels
  films: films                # a folder of PNG or DICOM films, relative to --data (or absolute)
  steps: 200
  batch_size: 16
  lr: 1.0e-3
```

It trains the vision tower only (plus a small pixel decoder that is thrown away at the end of the stage),
so it needs no ``sources``, ``modules``, ``eval_tasks`` or ``select_on``: its one measure is the masked
reconstruction loss on a few held-out films (``ssl.masked_loss``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SelfSupervisedStage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["self_supervised"]
    objective: Literal["masked_image"] = "masked_image"
    films: str = Field(min_length=1)  # folder of PNG / DICOM films (searched recursively)
    required: bool = True  # False: the stage is skipped when the folder is absent or holds no films
    limit: int | None = Field(default=None, ge=1)  # at most this many films (sorted by path)
    # share of the grid's patches hidden per film; one patch is one vision token's square (32 px on tiny).
    # 0.6 is SimMIM's choice for 32-px patches: enough hidden that the context must be understood
    mask_ratio: float = Field(default=0.6, gt=0.0, lt=1.0)
    steps: int = Field(ge=1, le=1_000_000)
    batch_size: int = Field(default=16, ge=1, le=4096)
    lr: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(default=0.05, ge=0.0, le=1.0)
    warmup_steps: int = Field(default=0, ge=0)
    eval_films: int = Field(default=16, ge=1, le=4096)  # held out; their masked loss is the stage's measure
    eval_every: int = Field(default=50, ge=1)
    checkpoint_every: int = Field(default=50, ge=1)
    augment: bool = True

    @property
    def select_on(self) -> str:
        return "ssl.masked_loss"

    @property
    def inputs(self) -> list[str]:
        """Single films, read as frontals: the stage asks nothing of laterals or indications."""
        return ["frontal"]

    @model_validator(mode="after")
    def _consistent(self) -> SelfSupervisedStage:
        if self.warmup_steps >= self.steps:
            raise ValueError(f"stage {self.name!r}: warmup_steps {self.warmup_steps} >= steps {self.steps}")
        return self
