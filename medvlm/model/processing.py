"""Inputs to the model: pixel checks and conversion, prompts, and token batches with answer-only labels.

The draft prompt renders the structured findings as text after the image tokens, so the language model
writes a report conditioned on the image *and* on the findings (edited findings -> consistent draft).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from medvlm.errors import ModelInputError
from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.model.configuration import BundleConfig, FindingSlot

IGNORE = -100
FINDINGS_MARK, REPORT_MARK, IMPRESSION_MARK = "findings:", "report:", "impression:"
QUESTION_MARK, ANSWER_MARK = "question:", "answer:"
LATERAL_MARK, INDICATION_MARK = "lateral:", "indication:"


def check_images(images: torch.Tensor, config: BundleConfig) -> torch.Tensor:
    """Refuse anything but ``(B, 1, S, S)`` float images with ``S = config.image_size``."""
    if not isinstance(images, torch.Tensor):
        raise ModelInputError(
            f"images must be a torch.Tensor of shape (B, 1, H, W), got {type(images).__name__}"
        )
    if images.ndim == 3:
        images = images.unsqueeze(0)
    size = config.image_size
    if images.ndim != 4 or images.shape[1] != 1 or tuple(images.shape[2:]) != (size, size):
        raise ModelInputError(
            f"expected images of shape (B, 1, {size}, {size}) (1-channel radiographs from "
            f"medvlm.imaging.transforms.model_input(..., size={size})), got {tuple(images.shape)}"
        )
    if images.shape[0] == 0:
        raise ModelInputError("expected at least one image, got an empty batch")
    if not torch.isfinite(images).all():
        raise ModelInputError("images contain NaN or infinite values")
    return images.float()


def to_pixel_values(images: torch.Tensor, config: BundleConfig) -> torch.Tensor:
    """Checked 1-channel images -> vision-tower input (channels replicated, checkpoint normalisation)."""
    x = check_images(images, config)
    if config.pixel_mode == "minmax_mean_std":
        low = x.amin(dim=(1, 2, 3), keepdim=True)
        high = x.amax(dim=(1, 2, 3), keepdim=True)
        x = (x - low) / (high - low).clamp_min(1e-6)
    x = x.expand(-1, config.num_channels, -1, -1)
    if config.pixel_mode == "minmax_mean_std":
        mean = torch.tensor(config.image_mean, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(config.image_std, dtype=x.dtype).view(1, -1, 1, 1)
        x = (x - mean) / std
    return x.contiguous()


def describe_finding(finding: Finding) -> str:
    parts = []
    if finding.presence == Presence.UNCERTAIN:
        parts.append("possible")
    if finding.laterality:
        parts.append(str(finding.laterality))
    if finding.severity:
        parts.append(finding.severity)
    parts.append(finding.label.replace("_", " "))
    return " ".join(parts)


def render_findings(findings: Sequence[Finding], slots: Sequence[FindingSlot]) -> str:
    """Present/uncertain findings, in head order, as ``left small pleural effusion; cardiomegaly``."""
    order = {s.name: i for i, s in enumerate(slots)}
    shown = [
        f
        for f in findings
        if f.presence in (Presence.PRESENT, Presence.UNCERTAIN) and f.label != NO_FINDING
    ]
    shown.sort(key=lambda f: order.get(f.label, len(order)))
    return "; ".join(describe_finding(f) for f in shown) or "none"


def image_prefix(config: BundleConfig) -> str:
    """The image tokens that start a plain prompt (chat prompts get the image from the processor)."""
    if config.prompt_format == "chat":
        return ""
    return config.image_token * config.num_image_tokens


def study_prefix(config: BundleConfig, lateral: bool = False, indication: str = "") -> str:
    """Frontal image tokens, then (plain prompts) the lateral's after ``lateral:``, then the indication.

    With neither, exactly the prompt start of bundles before #22 item 3 (so their outputs do not change).
    Chat prompts get the images from the processor (the lateral as a second image)."""
    text = image_prefix(config)
    if lateral and config.prompt_format != "chat":
        text += f" {LATERAL_MARK} {image_prefix(config)}"
    if indication.strip():
        text += f" {INDICATION_MARK} {indication.strip()}"
    return text


def report_prompt(
    config: BundleConfig, findings: Sequence[Finding], lateral: bool = False, indication: str = ""
) -> str:
    prefix = study_prefix(config, lateral, indication)
    return f"{prefix} {FINDINGS_MARK} {render_findings(findings, config.slots)} {REPORT_MARK}"


def report_target(findings_text: str, impression: str) -> str:
    return f" {findings_text.strip()} {IMPRESSION_MARK} {impression.strip()}"


def qa_prompt(config: BundleConfig, question: str, lateral: bool = False, indication: str = "") -> str:
    return f"{study_prefix(config, lateral, indication)} {QUESTION_MARK} {question} {ANSWER_MARK}"


def split_report(text: str) -> tuple[str, str]:
    """Generated text -> (findings section, impression)."""
    head, _, tail = text.partition(IMPRESSION_MARK)
    return head.strip(), tail.strip()


def encode_batch(
    tokenizer,
    prompts: Sequence[str],
    targets: Sequence[str] | None = None,
    max_target_tokens: int = 160,
    padding_side: str = "right",
) -> dict[str, torch.Tensor]:
    """Tokenise prompt (+ target + EOS); labels are -100 everywhere but the target, so loss = answer only."""
    rows: list[list[int]] = []
    labels: list[list[int]] = []
    for i, prompt in enumerate(prompts):
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if tokenizer.bos_token_id is not None:
            p_ids = [tokenizer.bos_token_id, *p_ids]
        if targets is None:
            rows.append(p_ids)
            labels.append([IGNORE] * len(p_ids))
            continue
        t_ids = tokenizer(targets[i], add_special_tokens=False)["input_ids"][:max_target_tokens]
        t_ids = [*t_ids, tokenizer.eos_token_id]
        rows.append(p_ids + t_ids)
        labels.append([IGNORE] * len(p_ids) + t_ids)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    lab = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, lb) in enumerate(zip(rows, labels, strict=True)):
        sl = slice(width - len(r), width) if padding_side == "left" else slice(0, len(r))
        ids[i, sl] = torch.tensor(r)
        lab[i, sl] = torch.tensor(lb)
        mask[i, sl] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": lab}


def check_image_tokens(
    input_ids: torch.Tensor, image_token_id: int, expected: int, images_per_row: Sequence[int] | None = None
) -> None:
    """Each row must hold exactly as many image tokens as the vision tower yields features for its images
    (``images_per_row``: 1, or 2 with a lateral; default 1 each)."""
    counts = (input_ids == image_token_id).sum(dim=1).tolist()
    per_row = list(images_per_row) if images_per_row is not None else [1] * len(counts)
    bad = [(i, c, n) for i, (c, n) in enumerate(zip(counts, per_row, strict=True)) if c != expected * n]
    if bad:
        row, count, n = bad[0]
        raise ModelInputError(
            f"image tokens and image features do not match: row {row} has {count} image tokens, "
            f"the vision tower yields {expected} features per image for its {n} image(s)"
        )


def lateral_rows(laterals: Sequence[torch.Tensor | None] | None, batch: int) -> list[int]:
    """Rows of a batch that have a lateral film; ``laterals`` must give one entry (or None) per row."""
    if laterals is None:
        return []
    if len(laterals) != batch:
        raise ModelInputError(f"got {len(laterals)} lateral entries for {batch} frontal images")
    return [i for i, x in enumerate(laterals) if x is not None]


def stack_laterals(
    laterals: Sequence[torch.Tensor | None], rows: Sequence[int], config: BundleConfig
) -> torch.Tensor:
    """The given rows' lateral films as one checked ``(L, 1, S, S)`` batch (each entry (1, S, S))."""
    if not rows:
        return torch.zeros(0, 1, config.image_size, config.image_size)
    films = [laterals[i] for i in rows]
    return check_images(torch.stack([f if f.ndim == 3 else f.squeeze(0) for f in films]), config)  # type: ignore[union-attr]
