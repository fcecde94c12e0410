"""``ModelBundle``: the LLaVA model, the findings head, the tokenizer and the bundle config, as one unit.

This is the interface drafting, evaluation and the service use (docs/ARCHITECTURE.md, "Model").
Saved layout: ``model/`` (save_pretrained, safetensors), ``tokenizer/``, ``findings_head.safetensors``,
``medvlm_config.json`` and ``model_card.json`` (+ ``views.safetensors`` when the model reads laterals,
+ ``novelty.safetensors``: its training films' familiarity fit, written by training).

A study is the frontal film plus, when the model's ``config.inputs`` name them, its lateral film
(``laterals``: one (1, S, S) tensor or None per row) and its indication (``indications``: text per row).
Inputs the model was not trained with are ignored, so callers pass whatever the study has.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from medvlm.errors import ConfigError, ModelInputError, NotFoundError
from medvlm.findings import Finding, Laterality, Presence
from medvlm.model import codecs, processing
from medvlm.model.codecs import VIEWS_KEY, ProcessorCodec, TokenCodec
from medvlm.model.configuration import BundleConfig, is_critical
from medvlm.model.embedding_novelty import EmbeddingNovelty, embed_features, film_embeddings
from medvlm.model.generation import GenerationOptions, hf_generate
from medvlm.model.heads import FindingsHead, head_for
from medvlm.model.novelty import FilmNovelty
from medvlm.model.views import VIEWS_FILE, ViewEmbedding, attach

HEAD_FILE, CONFIG_FILE, CARD_FILE = "findings_head.safetensors", "medvlm_config.json", "model_card.json"


class ModelBundle:
    def __init__(
        self,
        model: Any,
        head: FindingsHead,
        tokenizer: Any,
        config: BundleConfig,
        card: dict[str, Any] | None = None,
        processor: Any = None,
    ) -> None:
        self.model = model
        self.head = head
        self.tokenizer = processor.tokenizer if processor is not None else tokenizer
        self.processor = processor  # path: checkpoints: the checkpoint's own processor
        self.config = config
        self.card: dict[str, Any] = dict(card or {})
        self.codec: Any = (
            ProcessorCodec(processor, config) if processor is not None else TokenCodec(tokenizer, config)
        )
        self.generation = GenerationOptions(config.num_beams, list(config.stop_strings))
        self.source_dir: Path | None = None  # the folder load_bundle read (the vLLM backend serves it)
        self._vllm: Any = None
        self.views: ViewEmbedding | None = None  # the lateral's view embedding (medvlm.model.views)
        self.projector_views: Any = None  # its projector hook (plain-prompt presets)
        self.novelty: FilmNovelty | None = None  # how unlike its training films a film is (worklist order)
        self.embedding_novelty: EmbeddingNovelty | None = None  # the same, in the tower's own features

    @property
    def image_token_id(self) -> int:
        return int(self.tokenizer.convert_tokens_to_ids(self.config.image_token))

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

    @property
    def dtype(self) -> torch.dtype:
        """The model's floating-point weight dtype (float32 on CPU; bf16 when loaded so on a GPU; 4-bit
        weights are stored as integers, so the first floating-point parameter decides)."""
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch.float32)

    def to(self, device: str | torch.device) -> ModelBundle:
        if not getattr(self.model, "is_loaded_in_4bit", False):  # a 4-bit model is placed when loaded
            self.model.to(device)
        self.head.to(device)
        return self

    def eval(self) -> ModelBundle:
        self.model.eval()
        self.head.eval()
        return self

    def configure_generation(
        self, *, num_beams: int | None = None, stop_strings: Sequence[str] | None = None,
        backend: str | None = None,
    ) -> ModelBundle:
        """Greedy or beam search, stop strings, and the backend (``transformers`` or ``vllm``)."""
        current = self.generation
        options = GenerationOptions(
            num_beams=current.num_beams if num_beams is None else num_beams,
            stop_strings=current.stop_strings if stop_strings is None else list(stop_strings),
            backend=current.backend if backend is None else backend,  # type: ignore[arg-type]
        )
        engine = None
        if options.backend == "vllm":
            from medvlm.model.vllm_backend import VllmGenerator

            if self.processor is None or self.source_dir is None:
                raise ConfigError("the vllm backend serves saved path: bundles (from load_bundle) only")
            engine = VllmGenerator(self.source_dir / "model", options.stop_strings, options.num_beams)
        self.generation, self._vllm = options, engine  # unchanged when the backend could not start
        return self

    # -- forward pieces ----------------------------------------------------------------------------
    @property
    def context_length(self) -> int:
        """The language model's positions (prompt, image tokens and answer must fit)."""
        return int(getattr(self.model.config.get_text_config(), "max_position_embeddings", 2048))

    def pixel_values(self, images: torch.Tensor) -> dict[str, Any]:
        """Image inputs of the vision tower (``pixel_values`` and whatever else the architecture takes)."""
        return self.codec.image_inputs(images, self.device, self.dtype)

    def vision_features(self, image_inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The tokens the head reads (B, N, D) and the tower's detail map (B, C, H, W; None without one)."""
        return self.codec.features(self.model, image_inputs)

    # -- the study's inputs --------------------------------------------------------------------------
    def used_laterals(
        self, laterals: Sequence[torch.Tensor | None] | None, batch: int
    ) -> list[torch.Tensor | None] | None:
        """``laterals`` when the model reads laterals and a row has one, else None (frontal only)."""
        if laterals is None or not self.config.uses("lateral") or self.views is None:
            return None
        rows = processing.lateral_rows(laterals, batch)
        return list(laterals) if rows else None

    def indication_text(self, text: str | None) -> str:
        """The indication as the prompt takes it: '' when the model does not read it, else cut to
        ``config.indication_tokens`` tokens."""
        text = " ".join((text or "").split())
        if not text or not self.config.uses("indication"):
            return ""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= self.config.indication_tokens:
            return text
        kept = ids[: self.config.indication_tokens]
        return str(self.tokenizer.decode(kept, skip_special_tokens=True)).strip()

    def report_prompts(
        self,
        findings: Sequence[Sequence[Finding]],
        laterals: Sequence[torch.Tensor | None] | None = None,
        indications: Sequence[str | None] | None = None,
    ) -> list[str]:
        return self._prompts(processing.report_prompt, findings, laterals, indications)

    def question_prompts(
        self,
        questions: Sequence[str],
        laterals: Sequence[torch.Tensor | None] | None = None,
        indications: Sequence[str | None] | None = None,
    ) -> list[str]:
        return self._prompts(processing.qa_prompt, questions, laterals, indications)

    def _prompts(self, build: Any, items: Sequence[Any], laterals: Sequence[torch.Tensor | None] | None,
                 indications: Sequence[str | None] | None) -> list[str]:
        """One prompt per item: ``build(config, item, has_lateral, indication)``."""
        used = self.used_laterals(laterals, len(items))
        return [
            build(self.config, item, used is not None and used[i] is not None,
                  self.indication_text(indications[i] if indications else ""))
            for i, item in enumerate(items)
        ]

    def lateral_tokens(
        self, laterals: Sequence[torch.Tensor | None] | None, batch: int
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The lateral films' tokens for the head (view embedding added) and the rows they belong to."""
        used = self.used_laterals(laterals, batch)
        if used is None or self.views is None:
            return None, None
        rows = processing.lateral_rows(used, batch)
        films = processing.stack_laterals(used, rows, self.config)
        tokens, _ = self.vision_features(self.pixel_values(films))
        return tokens + self.views.vision.to(tokens.dtype), torch.tensor(rows, dtype=torch.long)

    def findings_outputs(
        self, images: torch.Tensor, laterals: Sequence[torch.Tensor | None] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Head logits over the frontal (and lateral) tokens, and the frontal's detail map."""
        logits, detail, _ = self.findings_pass(images, laterals)
        return logits, detail

    def findings_pass(
        self, images: torch.Tensor, laterals: Sequence[torch.Tensor | None] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``findings_outputs`` and the head's pooled frontal features (what an auxiliary head reads)."""
        tokens, detail = self.vision_features(self.pixel_values(images))
        lateral, rows = self.lateral_tokens(laterals, tokens.shape[0])
        features = self.head.features(tokens)
        return self.head.from_features(features, tokens, detail, lateral, rows), detail, features

    def findings_logits(
        self, images: torch.Tensor, laterals: Sequence[torch.Tensor | None] | None = None
    ) -> torch.Tensor:
        return self.findings_outputs(images, laterals)[0]

    def lm_forward(
        self,
        images: torch.Tensor,
        prompts: Sequence[str],
        targets: Sequence[str],
        max_target_tokens: int = 160,
        laterals: Sequence[torch.Tensor | None] | None = None,
    ) -> Any:
        """Teacher-forced forward; the loss covers the target tokens only. Prompts from ``report_prompts``
        / ``question_prompts`` with the same ``laterals``."""
        batch = self.codec.batch(
            images, prompts, targets, max_target_tokens, "right", self.device, self.dtype,
            laterals=self.used_laterals(laterals, len(prompts)),
        )
        return self._call(**batch)

    @contextlib.contextmanager
    def _views_active(self, batch: dict[str, Any]) -> Iterator[None]:
        """Which fed images are laterals, for the projector hook, while the model runs on ``batch``."""
        active = batch.pop(VIEWS_KEY, None)
        hook = self.projector_views
        if hook is not None:
            hook.active = active
        try:
            yield
        finally:
            if hook is not None:
                hook.active = None

    def _call(self, **kwargs: Any) -> Any:
        if "pixel_values" in kwargs and isinstance(kwargs["pixel_values"], dict):
            kwargs.update(kwargs.pop("pixel_values"))
        try:
            with self._views_active(kwargs):
                return self.model(**kwargs)
        except ValueError as exc:  # transformers' own image-token check, in one readable line
            if "image tokens" in str(exc).lower() or "image features" in str(exc).lower():
                raise ModelInputError(f"image tokens and image features do not match: {exc}") from exc
            raise

    # -- the interface -----------------------------------------------------------------------------
    @torch.no_grad()
    def predict_findings(
        self, images: torch.Tensor, laterals: Sequence[torch.Tensor | None] | None = None
    ) -> list[list[Finding]]:
        """Every ontology label per image, with probability, presence, laterality / severity, critical."""
        return self.read_films(images, laterals, familiarity=False)[0]

    @torch.no_grad()
    def read_films(
        self, images: torch.Tensor, laterals: Sequence[torch.Tensor | None] | None = None,
        familiarity: bool = True,
    ) -> tuple[list[list[Finding]], list[float] | None]:
        """``predict_findings`` and (when asked) ``familiarity`` from one pass of the tower."""
        was_training = self.head.training
        self.head.eval()  # BatchNorm: running statistics, whatever the batch size
        try:
            tokens, detail = self.vision_features(self.pixel_values(images))
            lateral, rows = self.lateral_tokens(laterals, tokens.shape[0])
            logits = self.head(tokens, detail, lateral, rows).float().cpu()
        finally:
            self.head.train(was_training)
        if not familiarity:
            return self._findings(logits), None
        embeddings = embed_features(tokens, detail) if self.embedding_novelty is not None else None
        return self._findings(logits), self._familiarity(images, embeddings)

    def _findings(self, logits: torch.Tensor) -> list[list[Finding]]:
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
                presence = Presence.PRESENT if present else Presence.ABSENT
                row.append(
                    Finding(
                        label=slot.name,
                        presence=presence,
                        laterality=laterality,
                        severity=severity,
                        probability=round(p, 6),
                        critical=is_critical(slot, presence, severity),
                        threshold=round(threshold, 6),
                    )
                )
            results.append(row)
        return results

    def familiarity(self, images: torch.Tensor) -> list[float] | None:
        """Per film, how typical of the training films it is: the smaller of its familiarity on the input
        pixels (``medvlm.model.novelty``) and in the tower's features (``medvlm.model.embedding_novelty``),
        a film strange in either being strange; None when this model was saved without either fit."""
        embeddings = film_embeddings(self, images) if self.embedding_novelty is not None else None
        return self._familiarity(images, embeddings)

    def _familiarity(self, images: torch.Tensor, embeddings: torch.Tensor | None) -> list[float] | None:
        fits = []
        if self.novelty is not None:
            fits.append(self.novelty.familiarity(images))
        if self.embedding_novelty is not None and embeddings is not None:
            fits.append(self.embedding_novelty.familiarity(embeddings))
        return [min(values) for values in zip(*fits, strict=True)] if fits else None

    @torch.no_grad()
    def generate_text(
        self,
        images: torch.Tensor,
        prompts: Sequence[str],
        max_new_tokens: int,
        laterals: Sequence[torch.Tensor | None] | None = None,
    ) -> list[str]:
        """Prompts left-padded as one batch, decoded by ``generate`` (KV cache; greedy or beam) or vLLM."""
        images = processing.check_images(images, self.config)
        if images.shape[0] != len(prompts):
            raise ModelInputError(f"got {images.shape[0]} images for {len(prompts)} prompts")
        used = self.used_laterals(laterals, len(prompts))
        if self._vllm is not None and used is not None:
            raise ModelInputError("the vllm backend drafts from the frontal film only; use transformers")
        if self._vllm is not None:
            from PIL import Image

            arrays = codecs.as_arrays(images)
            pil = [Image.fromarray((a * 255).round().astype("uint8")) for a in arrays]
            return self._vllm.generate([self.codec.chat(p) for p in prompts], pil, max_new_tokens)
        batch = self.codec.batch(images, prompts, None, 0, "left", self.device, self.dtype, laterals=used)
        with self._views_active(batch):
            out = hf_generate(self.model, batch, self.tokenizer, max_new_tokens, self.generation)
        texts = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        return [_cut(t, self.generation.stop_strings) for t in texts]

    def generate_report(
        self,
        images: torch.Tensor,
        findings: Sequence[Sequence[Finding]],
        max_new_tokens: int | None = None,
        laterals: Sequence[torch.Tensor | None] | None = None,
        indications: Sequence[str | None] | None = None,
    ) -> list[tuple[str, str]]:
        """(findings section, impression) per study, conditioned on its films, indication and findings."""
        images = processing.check_images(images, self.config)
        if len(findings) != images.shape[0]:
            raise ModelInputError(f"got {images.shape[0]} images but {len(findings)} findings lists")
        if indications is not None and len(indications) != len(findings):
            raise ModelInputError(f"got {len(indications)} indications for {len(findings)} studies")
        prompts = self.report_prompts(findings, laterals, indications)
        texts = self.generate_text(images, prompts, max_new_tokens or self.config.max_new_tokens, laterals)
        return [processing.split_report(t) for t in texts]

    def answer(
        self,
        images: torch.Tensor,
        questions: Sequence[str],
        max_new_tokens: int = 8,
        laterals: Sequence[torch.Tensor | None] | None = None,
        indications: Sequence[str | None] | None = None,
    ) -> list[str]:
        prompts = self.question_prompts(questions, laterals, indications)
        return [t.strip() for t in self.generate_text(images, prompts, max_new_tokens, laterals)]

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
        if self.processor is not None:
            self.processor.save_pretrained(model_dir / "processor")
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            model_dir / HEAD_FILE,
        )
        if self.views is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.views.state_dict().items()},
                      model_dir / VIEWS_FILE)
        (model_dir / CONFIG_FILE).write_text(json.dumps(self.config.to_dict(), indent=2))
        # not part of the version: familiarity orders the worklist and flags strange films, the draft's
        # findings and text do not depend on it
        if self.novelty is not None:
            self.novelty.save(model_dir)
        if self.embedding_novelty is not None:
            self.embedding_novelty.save(model_dir)
        self.card["version"] = weights_digest(model_dir)
        self.card.setdefault("parent", None)
        self.card["preset"] = self.config.preset
        self.card["config"] = {
            **self.card.get("config", {}),
            "image_size": self.config.image_size,
            "findings": self.names,
            "num_image_tokens": self.config.num_image_tokens,
            "inputs": list(self.config.inputs),
        }
        self.card.setdefault("metrics", {})
        self.card.setdefault("stages", [])
        self.card["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (model_dir / CARD_FILE).write_text(json.dumps(self.card, indent=2, sort_keys=True))
        return model_dir


def _cut(text: str, stops: Sequence[str]) -> str:
    """Text up to the first stop string (``generate`` stops there but keeps the string itself)."""
    for stop in stops:
        if stop and stop in text:
            text = text[: text.index(stop)]
    return text


def weights_digest(model_dir: Path) -> str:
    """Version = content hash of the weights and head config (same weights, same version)."""
    digest = hashlib.sha256()
    for path in [
        *sorted((model_dir / "model").glob("*.safetensors")),
        model_dir / HEAD_FILE,
        model_dir / CONFIG_FILE,
        *([model_dir / VIEWS_FILE] if (model_dir / VIEWS_FILE).is_file() else []),
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
    processor = None
    if (model_dir / "processor").is_dir():
        from medvlm.model.checkpoint_processor import load_processor

        processor = load_processor(model_dir / "processor")
        tokenizer = processor.tokenizer
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir / "tokenizer", local_files_only=True)
    tokenizer.padding_side = "left"
    head = head_for(config)
    head.load_state_dict(load_file(model_dir / HEAD_FILE))
    card = json.loads((model_dir / CARD_FILE).read_text()) if (model_dir / CARD_FILE).is_file() else {}
    bundle = ModelBundle(model, head, tokenizer, config, card, processor=processor).eval()
    if (model_dir / VIEWS_FILE).is_file():
        state = load_file(model_dir / VIEWS_FILE)
        views = ViewEmbedding(int(state["vision"].shape[0]), int(state["text"].shape[0]))
        views.load_state_dict(state)
        attach(bundle, views.eval())
    bundle.novelty = FilmNovelty.load(model_dir)
    bundle.embedding_novelty = EmbeddingNovelty.load(model_dir)
    bundle.source_dir = model_dir
    return bundle
