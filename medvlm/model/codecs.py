"""Images and prompts -> model inputs, two ways.

``TokenCodec`` (``tiny`` / ``small`` / ``micro`` and bundles saved before #25): our prompt format with
``config.num_image_tokens`` image tokens, pixels normalised by us. ``ProcessorCodec`` (``path:``
checkpoints): the checkpoint's own processor expands the image placeholder and prepares pixels, and its
chat template wraps the prompt as a user turn; the target follows as the assistant's answer. Both return
the same batch dict (``input_ids``, ``attention_mask``, ``labels`` when targets are given, image keys, and
per-token keys such as Gemma 3's ``token_type_ids``), so training and generation do not branch.

A row with a lateral film (``laterals[i]`` not None) feeds two images, frontal first: ``TokenCodec`` puts
the lateral's image tokens after the frontal's (``processing.study_prefix``) and its pixels right after the
frontal's, so LLaVA scatters each image's features into its own tokens; ``VIEWS_KEY`` says which fed
images are laterals (the projector hook adds the view embedding to them). ``ProcessorCodec`` gives the
lateral to the checkpoint's processor as a second image of the same user turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from medvlm.model import processing
from medvlm.model.architectures import FAMILIES, IMAGE_KEYS, image_tokens
from medvlm.model.configuration import BundleConfig

IGNORE = processing.IGNORE
VIEWS_KEY = "_lateral_images"  # popped by the bundle before the model call


class TokenCodec:
    def __init__(self, tokenizer: Any, config: BundleConfig) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.image_token_id = int(tokenizer.convert_tokens_to_ids(config.image_token))

    def image_inputs(self, images: torch.Tensor, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
        return {"pixel_values": processing.to_pixel_values(images, self.config).to(device)}

    def features(self, model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = model.get_image_features(**inputs, return_dict=True)
        return out.last_hidden_state, getattr(out, "detail", None)

    def batch(
        self,
        images: torch.Tensor,
        prompts: Sequence[str],
        targets: Sequence[str] | None,
        max_target_tokens: int,
        padding_side: str,
        device: torch.device,
        dtype: torch.dtype,
        laterals: Sequence[torch.Tensor | None] | None = None,
    ) -> dict[str, Any]:
        enc = processing.encode_batch(self.tokenizer, prompts, targets, max_target_tokens, padding_side)
        rows = set(processing.lateral_rows(laterals, len(prompts)))
        per_row = [2 if i in rows else 1 for i in range(len(prompts))]
        processing.check_image_tokens(
            enc["input_ids"], self.image_token_id, self.config.num_image_tokens, per_row
        )
        if targets is None:
            enc.pop("labels")
        out = {k: v.to(device) for k, v in enc.items()}
        if not rows:
            return {**out, **self.image_inputs(images, device, dtype)}
        images = processing.check_images(images, self.config)
        stacked = processing.stack_laterals(laterals or [], sorted(rows), self.config)
        lateral_of = dict(zip(sorted(rows), stacked, strict=True))
        fed: list[torch.Tensor] = []
        is_lateral: list[bool] = []
        for i in range(images.shape[0]):  # frontal, then its lateral: the order of the image tokens
            fed.append(images[i])
            is_lateral.append(False)
            if i in lateral_of:
                fed.append(lateral_of[i])
                is_lateral.append(True)
        pixels = self.image_inputs(torch.stack(fed), device, dtype)
        return {**out, **pixels, VIEWS_KEY: torch.tensor(is_lateral)}


def as_arrays(images: torch.Tensor) -> list[Any]:
    """(B, 1, S, S) 0..1 films -> H x W x 3 float arrays in 0..1 (min-max per film), as processors take."""
    x = images.float()
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    x = ((x - low) / (high - low).clamp_min(1e-6)).expand(-1, 3, -1, -1)
    return [img.permute(1, 2, 0).contiguous().cpu().numpy() for img in x]


def _cast(value: Any, device: torch.device, dtype: torch.dtype) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    value = value.to(device)
    return value.to(dtype) if value.is_floating_point() else value


class ProcessorCodec:
    def __init__(self, processor: Any, config: BundleConfig) -> None:
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.config = config
        self.image_kwargs = (
            dict(FAMILIES[config.architecture].image_kwargs) if config.architecture in FAMILIES else {}
        )

    def image_inputs(self, images: torch.Tensor, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
        images = processing.check_images(images, self.config)
        arrays: list[Any] = as_arrays(images)
        if self.config.architecture in ("idefics3", "smolvlm"):  # these take a list of images per sample
            arrays = [[a] for a in arrays]
        out = self.processor.image_processor(
            images=arrays, return_tensors="pt", do_rescale=False, **self.image_kwargs
        )
        return {k: _cast(out[k], device, dtype) for k in IMAGE_KEYS if k in out}

    def features(self, model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        return image_tokens(model, inputs), None

    def chat(self, prompt: str, images: int = 1) -> str:
        """The prompt as the user turn of the checkpoint's chat template, images (frontal, lateral) first."""
        content: list[dict[str, str]] = [{"type": "image"} for _ in range(images)]
        messages = [{"role": "user", "content": [*content, {"type": "text", "text": prompt.strip()}]}]
        template = getattr(self.processor, "chat_template", None) or getattr(
            self.tokenizer, "chat_template", None
        )
        if template:
            text = self.tokenizer.apply_chat_template(
                messages, chat_template=template, add_generation_prompt=True, tokenize=False
            )
        else:  # no template saved: the processor's image placeholder, then the prompt
            placeholder = getattr(self.processor, "image_token", None) or self.config.image_token
            text = f"{placeholder * images}{prompt}"
        bos = self.tokenizer.bos_token
        return text if not bos or text.startswith(bos) else f"{bos}{text}"

    def batch(
        self,
        images: torch.Tensor,
        prompts: Sequence[str],
        targets: Sequence[str] | None,
        max_target_tokens: int,
        padding_side: str,
        device: torch.device,
        dtype: torch.dtype,
        laterals: Sequence[torch.Tensor | None] | None = None,
    ) -> dict[str, Any]:
        images = processing.check_images(images, self.config)
        rows = processing.lateral_rows(laterals, len(prompts))
        per_sample = [[a] for a in as_arrays(images)]
        if rows:
            films = processing.stack_laterals(laterals or [], rows, self.config)
            for i, lateral in zip(rows, as_arrays(films), strict=True):
                per_sample[i].append(lateral)
        enc = self.processor(
            text=[self.chat(p, len(per_sample[i])) for i, p in enumerate(prompts)],
            images=per_sample,
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
            do_rescale=False,
            **self.image_kwargs,
        )
        ids, mask = enc["input_ids"], enc["attention_mask"].bool()
        per_token = [
            k
            for k, v in enc.items()
            if k not in ("input_ids", "attention_mask")
            and k not in IMAGE_KEYS
            and isinstance(v, torch.Tensor)
            and tuple(v.shape) == tuple(ids.shape)
        ]
        rows: list[dict[str, list[int]]] = []
        for i in range(ids.shape[0]):
            row = {
                "input_ids": ids[i][mask[i]].tolist(),
                **{k: enc[k][i][mask[i]].tolist() for k in per_token},
            }
            row["labels"] = [IGNORE] * len(row["input_ids"])
            if targets is not None:
                t_ids = self.tokenizer(targets[i], add_special_tokens=False)["input_ids"][:max_target_tokens]
                t_ids = [*t_ids, self.tokenizer.eos_token_id]
                row["input_ids"] += t_ids
                row["labels"] += t_ids
                for k in per_token:
                    row[k] += [0] * len(t_ids)
            rows.append(row)
        pad = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        width = max(len(r["input_ids"]) for r in rows)
        fill = {"input_ids": pad, "labels": IGNORE, "attention_mask": 0, **{k: 0 for k in per_token}}
        out = {k: torch.full((len(rows), width), v, dtype=torch.long) for k, v in fill.items()}
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            sl = slice(width - n, width) if padding_side == "left" else slice(0, n)
            for k in ("input_ids", "labels", *per_token):
                out[k][i, sl] = torch.tensor(r[k])
            out["attention_mask"][i, sl] = 1
        if targets is None:
            out.pop("labels")
        images_in = {k: _cast(enc[k], device, dtype) for k in IMAGE_KEYS if k in enc}
        return {**{k: v.to(device) for k, v in out.items()}, **images_in}
