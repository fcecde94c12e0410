"""``ModelBundle``: the LLaVA model, the findings head, the tokenizer and the bundle config, as one unit.

This is the interface drafting, evaluation and the service use (docs/ARCHITECTURE.md, "Model").
Saved layout: ``model/`` (save_pretrained, safetensors), ``tokenizer/``, ``findings_head.safetensors``,
``medvlm_config.json`` and ``model_card.json``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from medvlm.errors import ModelInputError, NotFoundError
from medvlm.findings import Finding, Laterality, Presence
from medvlm.model import processing
from medvlm.model.configuration import BundleConfig, is_critical
from medvlm.model.generation import greedy_generate
from medvlm.model.heads import FindingsHead

HEAD_FILE, CONFIG_FILE, CARD_FILE = "findings_head.safetensors", "medvlm_config.json", "model_card.json"


class ModelBundle:
    def __init__(
        self,
        model: Any,
        head: FindingsHead,
        tokenizer: Any,
        config: BundleConfig,
        card: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.head = head
        self.tokenizer = tokenizer
        self.config = config
        self.card: dict[str, Any] = dict(card or {})
        self.image_token_id = int(tokenizer.convert_tokens_to_ids(config.image_token))

    # -- properties the rest of the system reads -------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.card.get("version") or "unsaved")

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def names(self) -> list[str]:
        return self.config.names

    @property
    def device(self) -> torch.device:
        return next(self.head.parameters()).device

    def to(self, device: str | torch.device) -> ModelBundle:
        self.model.to(device)
        self.head.to(device)
        return self

    def eval(self) -> ModelBundle:
        self.model.eval()
        self.head.eval()
        return self

    # -- forward pieces ----------------------------------------------------------------------------
    def pixel_values(self, images: torch.Tensor) -> torch.Tensor:
        return processing.to_pixel_values(images, self.config).to(self.device)

    def vision_features(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The tower's tokens (B, N, D) and its detail map (B, C, H, W; None for towers without one)."""
        out = self.model.get_image_features(pixel_values=pixel_values, return_dict=True)
        return out.last_hidden_state, getattr(out, "detail", None)

    def findings_logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(*self.vision_features(self.pixel_values(images)))

    def lm_forward(
        self,
        images: torch.Tensor,
        prompts: Sequence[str],
        targets: Sequence[str],
        max_target_tokens: int = 160,
    ) -> Any:
        """Teacher-forced forward; the loss covers the target tokens only."""
        batch = processing.encode_batch(self.tokenizer, prompts, targets, max_target_tokens)
        processing.check_image_tokens(batch["input_ids"], self.image_token_id, self.config.num_image_tokens)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        return self._call(pixel_values=self.pixel_values(images), **batch)

    def _call(self, **kwargs: Any) -> Any:
        try:
            return self.model(**kwargs)
        except ValueError as exc:  # transformers' own image-token check, in one readable line
            if "image tokens" in str(exc).lower() or "image features" in str(exc).lower():
                raise ModelInputError(f"image tokens and image features do not match: {exc}") from exc
            raise

    # -- the interface -----------------------------------------------------------------------------
    @torch.no_grad()
    def predict_findings(self, images: torch.Tensor) -> list[list[Finding]]:
        """Every ontology label per image, with probability, presence, laterality / severity, critical."""
        was_training = self.head.training
        self.head.eval()  # BatchNorm: running statistics, whatever the batch size
        try:
            logits = self.findings_logits(images).float().cpu()
        finally:
            self.head.train(was_training)
        probs = torch.sigmoid(self.head.presence_logits(logits))
        results = []
        for b in range(logits.shape[0]):
            row = []
            for i, slot in enumerate(self.config.slots):
                p = float(probs[b, i])
                threshold = self.config.threshold(slot.name)
                present = p >= threshold
                laterality = severity = None
                # An absent finding has no side or size: its attribute heads are read only when present.
                if present and i in self.head.laterality_slices:
                    laterality = Laterality(
                        slot.lateralities[int(logits[b, self.head.laterality_slices[i]].argmax())]
                    )
                if present and i in self.head.severity_slices:
                    severity = slot.severities[int(logits[b, self.head.severity_slices[i]].argmax())]
                critical = present and is_critical(slot, severity)
                row.append(
                    Finding(
                        label=slot.name,
                        presence=Presence.PRESENT if present else Presence.ABSENT,
                        laterality=laterality,
                        severity=severity,
                        probability=round(p, 6),
                        threshold=round(threshold, 6),
                        critical=critical,
                    )
                )
            results.append(row)
        return results

    @torch.no_grad()
    def generate_text(self, images: torch.Tensor, prompts: Sequence[str], max_new_tokens: int) -> list[str]:
        """Greedy decoding with the KV cache, prompts left-padded as one batch."""
        batch = processing.encode_batch(self.tokenizer, prompts, None, padding_side="left")
        processing.check_image_tokens(batch["input_ids"], self.image_token_id, self.config.num_image_tokens)
        ids = batch["input_ids"].to(self.device)
        mask = batch["attention_mask"].to(self.device)
        pixel_values = self.pixel_values(images)
        if pixel_values.shape[0] != ids.shape[0]:
            raise ModelInputError(f"got {pixel_values.shape[0]} images for {ids.shape[0]} prompts")
        out = greedy_generate(
            self.model,
            ids,
            mask,
            pixel_values,
            self.image_token_id,
            self.tokenizer.eos_token_id,
            max_new_tokens,
        )
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    def generate_report(
        self, images: torch.Tensor, findings: Sequence[Sequence[Finding]], max_new_tokens: int | None = None
    ) -> list[tuple[str, str]]:
        """(findings section, impression) per image, conditioned on the image and the given findings."""
        images = processing.check_images(images, self.config)
        if len(findings) != images.shape[0]:
            raise ModelInputError(f"got {images.shape[0]} images but {len(findings)} findings lists")
        prompts = [processing.report_prompt(self.config, f) for f in findings]
        texts = self.generate_text(images, prompts, max_new_tokens or self.config.max_new_tokens)
        return [processing.split_report(t) for t in texts]

    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 8) -> list[str]:
        prompts = [processing.qa_prompt(self.config, q) for q in questions]
        return [t.strip() for t in self.generate_text(images, prompts, max_new_tokens)]

    # -- persistence -------------------------------------------------------------------------------
    def plain_model(self) -> Any:
        """The model without LoRA wrappers (adapters merged into a copy; the training copy is kept)."""
        if hasattr(self.model, "merge_and_unload"):
            return copy.deepcopy(self.model).merge_and_unload()
        return self.model

    def save(self, model_dir: Path | str) -> Path:
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        self.plain_model().save_pretrained(model_dir / "model", safe_serialization=True)
        self.tokenizer.save_pretrained(model_dir / "tokenizer")
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            model_dir / HEAD_FILE,
        )
        (model_dir / CONFIG_FILE).write_text(json.dumps(self.config.to_dict(), indent=2))
        self.card["version"] = weights_digest(model_dir)
        self.card.setdefault("parent", None)
        self.card["preset"] = self.config.preset
        self.card["config"] = {
            **self.card.get("config", {}),
            "image_size": self.config.image_size,
            "findings": self.names,
            "num_image_tokens": self.config.num_image_tokens,
        }
        self.card.setdefault("metrics", {})
        self.card.setdefault("stages", [])
        self.card["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (model_dir / CARD_FILE).write_text(json.dumps(self.card, indent=2, sort_keys=True))
        return model_dir


def weights_digest(model_dir: Path) -> str:
    """Version = content hash of the weights and head config (same weights, same version)."""
    digest = hashlib.sha256()
    for path in [
        *sorted((model_dir / "model").glob("*.safetensors")),
        model_dir / HEAD_FILE,
        model_dir / CONFIG_FILE,
    ]:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def load_bundle(model_dir: Path | str) -> ModelBundle:
    """Load a saved bundle; a directory without weights is a ``NotFoundError`` naming what is missing."""
    from medvlm.model.presets import load_checkpoint  # registers the tiny vision tower too

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise NotFoundError(f"model directory {model_dir} does not exist")
    missing = [n for n in (CONFIG_FILE, HEAD_FILE) if not (model_dir / n).is_file()]
    if missing:
        raise NotFoundError(
            f"no model weights in {model_dir}: missing {', '.join(missing)} (train one first)"
        )
    config = BundleConfig.from_dict(json.loads((model_dir / CONFIG_FILE).read_text()))
    model, _ = load_checkpoint(model_dir / "model", with_tokenizer=False)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir / "tokenizer", local_files_only=True)
    tokenizer.padding_side = "left"
    head = FindingsHead(
        config.slots,
        config.vision_feature_dim,
        config.head_hidden,
        config.head_tokens,
        local=config.head_local,
        detail_channels=config.head_detail,
    )
    head.load_state_dict(load_file(model_dir / HEAD_FILE))
    card = json.loads((model_dir / CARD_FILE).read_text()) if (model_dir / CARD_FILE).is_file() else {}
    return ModelBundle(model, head, tokenizer, config, card).eval()
