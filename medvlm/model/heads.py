"""The findings head: presence (multi-label) plus laterality and severity where the ontology has them.

It reads the vision tower's tokens through a spatial pooling: each token is reduced to a few channels and
the grid is kept (flattened), because on radiographs *where* matters (a wide heart, a blunted left angle)
and a mean over tokens washes that out. With ``pool`` the grid is first averaged down to pool x pool
cells: a region (upper left zone, the heart's border) still has its own weights, but a film's exact
token alignment no longer does, and the head has (grid / pool)^2 times fewer weights to fit from a few
thousand films. One linear map gives every logit, sliced per finding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from medvlm.model.configuration import BundleConfig, FindingSlot


def head_for(config: BundleConfig) -> FindingsHead:
    """The (untrained) findings head a bundle's config describes: the one layout rule for build and load."""
    return FindingsHead(
        config.slots,
        config.vision_feature_dim,
        config.head_hidden,
        config.head_tokens,
        local=config.head_local,
        detail_channels=config.head_detail,
        lateral=config.head_lateral,
        pool=config.head_pool,
    )


class FindingsHead(nn.Module):
    def __init__(
        self,
        slots: list[FindingSlot],
        feature_dim: int,
        hidden: int = 0,
        tokens: int = 0,
        channels: int = 16,
        local: bool = False,
        detail_channels: int = 0,
        lateral: bool = False,
        pool: int = 0,
    ) -> None:
        super().__init__()
        self.tokens = tokens
        self.grid = math.isqrt(tokens)
        if pool and (self.grid * self.grid != tokens or not 0 < pool <= self.grid):
            raise ValueError(f"a pooled head needs a square grid of >= {pool}x{pool} tokens, got {tokens}")
        self.pool = pool
        self.slots = slots
        self.presence_index = list(range(len(slots)))
        offset = len(slots)
        self.laterality_slices: dict[int, slice] = {}
        self.severity_slices: dict[int, slice] = {}
        for i, slot in enumerate(slots):
            if slot.lateralities:
                self.laterality_slices[i] = slice(offset, offset + len(slot.lateralities))
                offset += len(slot.lateralities)
        for i, slot in enumerate(slots):
            if slot.severities:
                self.severity_slices[i] = slice(offset, offset + len(slot.severities))
                offset += len(slot.severities)
        self.num_outputs = offset
        # tokens == 0: mean pooling (older bundles); otherwise spatial pooling over a fixed token grid.
        self.reduce = nn.Linear(feature_dim, channels) if tokens else None
        cells = self.pool * self.pool if self.pool else tokens
        width = cells * channels if tokens else feature_dim
        # BatchNorm, not LayerNorm: films of one anatomy share most of their features; standardising each
        # feature across the batch removes that shared part so the head sees what differs between films.
        norm: nn.Module = nn.BatchNorm1d(width) if tokens else nn.LayerNorm(width)
        self.body: nn.Module = nn.Sequential(norm, nn.Linear(width, hidden), nn.GELU()) if hidden else norm
        self.out = nn.Linear(hidden or width, offset)
        # local: a per-token presence score max-pooled over the grid, added to the presence logits. A nodule,
        # a granuloma or a line is a few tokens wide; squeezed to 16 channels per token and mixed with the
        # whole film it is easily lost, while the strongest single token still shows it.
        self.local = nn.Linear(feature_dim, len(slots)) if local else None
        if self.local is not None:
            nn.init.zeros_(self.local.weight)
            nn.init.zeros_(self.local.bias)
        # detail: the same per-position score on the vision tower's finer map (stride 8), where a 5-px
        # granuloma is one or two cells instead of a fraction of a 32-px token; trained with the positions
        # the dataset records (``localization_loss``). Measured on the tiny tower, 300 steps: test AUROC of
        # calcified granuloma from this score 0.93-0.96, from the token score 0.49.
        self.detail = nn.Conv2d(detail_channels, len(slots), 1) if detail_channels else None
        if self.detail is not None:
            nn.init.normal_(self.detail.weight, std=0.01)
            nn.init.zeros_(self.detail.bias)

        # lateral: every logit also reads the lateral film's tokens, mean-pooled. Zero-initialised, so a head
        # given this term scores frontal-only studies, and everything before training on laterals, as before.
        self.lateral = nn.Linear(feature_dim, offset) if lateral else None
        if self.lateral is not None:
            nn.init.zeros_(self.lateral.weight)
            nn.init.zeros_(self.lateral.bias)

    def forward(
        self,
        tokens: torch.Tensor,
        detail: torch.Tensor | None = None,
        lateral: torch.Tensor | None = None,
        lateral_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``tokens`` (B, N, D) and, for a head with a detail map, ``detail`` (B, C, H, W) -> logits.

        ``lateral`` (L, M, D): the lateral films' tokens (view embedding added) of the rows ``lateral_rows``
        (L,) of the batch; rows without a lateral score from the frontal alone."""
        return self.from_features(self.features(tokens), tokens, detail, lateral, lateral_rows)

    def from_features(
        self,
        features: torch.Tensor,
        tokens: torch.Tensor,
        detail: torch.Tensor | None = None,
        lateral: torch.Tensor | None = None,
        lateral_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``forward`` given the frontal's ``features`` (what an auxiliary head may also read)."""
        logits = self._frontal(features, tokens, detail)
        if lateral is None or self.lateral is None or lateral.shape[0] == 0:
            return logits
        rows = torch.arange(lateral.shape[0]) if lateral_rows is None else lateral_rows
        term = torch.zeros_like(logits).index_add(
            0, rows.to(logits.device), self.lateral(lateral.float().mean(dim=1)).to(logits.dtype)
        )
        return logits + term

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The frontal film's pooled features that the presence / laterality / severity logits read."""
        return self.body(self.cells(tokens))

    def cells(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, width): the tokens pooled as the body reads them, before its normalisation."""
        if self.reduce is None:
            return tokens.float().mean(dim=1)
        if tokens.shape[1] != self.tokens:
            from medvlm.errors import ModelInputError

            raise ModelInputError(
                f"the findings head expects {self.tokens} vision tokens per image, got {tokens.shape[1]}"
            )
        return self._cells(self.reduce(tokens.float()))

    @property
    def feature_dim(self) -> int:
        return self.out.in_features

    def _frontal(
        self, features: torch.Tensor, tokens: torch.Tensor, detail: torch.Tensor | None
    ) -> torch.Tensor:
        logits = self.out(features)
        if self.reduce is None:
            return logits
        n = len(self.slots)
        presence = logits[:, :n]
        if self.local is not None:
            presence = presence + self.local(tokens.float()).amax(dim=1)
        if self.detail is not None:
            presence = presence + self.detail_logits(detail).amax(dim=1)
        return torch.cat([presence, logits[:, n:]], dim=1)

    def _cells(self, reduced: torch.Tensor) -> torch.Tensor:
        """(B, N, C) reduced tokens -> (B, cells * C): the full grid, or its pool x pool cell averages."""
        if not self.pool:
            return reduced.flatten(1)
        b, _, c = reduced.shape
        grid = reduced.transpose(1, 2).reshape(b, c, self.grid, self.grid)
        return F.adaptive_avg_pool2d(grid, self.pool).flatten(2).transpose(1, 2).flatten(1)

    def detail_logits(self, detail: torch.Tensor | None) -> torch.Tensor:
        """Per-position presence scores on the detail map: (B, H*W, findings)."""
        if self.detail is None:
            raise ValueError("this findings head has no detail map")
        if detail is None or detail.ndim != 4 or detail.shape[1] != self.detail.in_channels:
            from medvlm.errors import ModelInputError

            got = None if detail is None else tuple(detail.shape)
            raise ModelInputError(
                f"the findings head expects a (B, {self.detail.in_channels}, H, W) detail map from the "
                f"vision tower, got {got}"
            )
        return self.detail(detail.float()).flatten(2).transpose(1, 2)

    def presence_logits(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, : len(self.slots)]

    def loss(
        self, logits: torch.Tensor, targets: dict[str, torch.Tensor], pos_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """BCE on presence (summed over findings); cross-entropy on laterality / severity where known.

        ``targets``: ``presence`` (B, n) float; optional ``known`` (B, n) float, 0 where a presence label is
        not to be learned (an uncertain finding: it adds no loss and no gradient); ``laterality`` /
        ``severity`` (B, n) long, -1 = unknown. ``pos_weight`` (n,): weight of a positive per finding (rare
        findings get more; see ``pos_weights``).
        """
        # Summed over findings (mean over the batch): averaged, the 13 presence terms together weighed less
        # than one laterality / severity term, and presence (what AUROC measures) learned slowest.
        bce = F.binary_cross_entropy_with_logits(
            self.presence_logits(logits), targets["presence"], pos_weight=pos_weight, reduction="none"
        )
        known = targets.get("known")
        if known is not None:
            bce = bce * known.to(bce.dtype)  # masked, not a 0 target: no pull either way
        loss = bce.mean(dim=0).sum()
        for key, slices in (("laterality", self.laterality_slices), ("severity", self.severity_slices)):
            target = targets[key]
            for i, sl in slices.items():
                has = target[:, i] >= 0
                if has.any():
                    loss = loss + 0.5 * F.cross_entropy(logits[has, sl], target[has, i])
        return loss


def pos_weights(
    presence: torch.Tensor, cap: float = 10.0, known: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-finding positive weight sqrt(negatives / positives), within [1, cap]: with 1644 of 2821 training
    films normal, plain BCE lets the rare findings (nodule, granuloma, device) sit at their prior."""
    pos = presence.sum(dim=0)
    neg = presence.shape[0] - pos
    if known is not None:  # masked (uncertain) labels are neither positives nor negatives
        pos = (presence * known).sum(dim=0)
        neg = ((1 - presence) * known).sum(dim=0)
    return (neg / pos.clamp(min=1.0)).sqrt().clamp(1.0, cap)
