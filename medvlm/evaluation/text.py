"""Report text metrics from the reference implementations: corpus BLEU-4 and chrF from ``sacrebleu``
(Post 2018), ROUGE-L F1 from Google's ``rouge-score`` (Lin 2004).

Settings, and how they differ from the hand-written scorer they replace (issue #22):
- BLEU: lower-cased, sacrebleu's ``13a`` tokenizer, no smoothing, one reference per draft (the same
  definition as before; 13a splits "1.5 cm" and "x-ray" differently from the old word/punctuation split).
- ROUGE-L: rouge-score's tokenizer drops punctuation (the old one counted "." and "," as tokens), no
  stemming; the mean of per-draft F1.
- chrF: sacrebleu's chrF2 (character 6-grams, beta 2), corpus level.
All three are returned on a 0..1 scale (sacrebleu reports 0..100)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rouge_score.rouge_scorer import RougeScorer
from rouge_score.tokenizers import DefaultTokenizer
from sacrebleu.metrics import BLEU, CHRF


def _check(hypotheses: Sequence[str], references: Sequence[str], metric: str) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{metric}: {len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError(f"{metric} needs at least one hypothesis")


@lru_cache(maxsize=1)
def _bleu() -> BLEU:
    return BLEU(lowercase=True, tokenize="13a", smooth_method="none", effective_order=False)


@lru_cache(maxsize=1)
def _chrf() -> CHRF:
    return CHRF()


@lru_cache(maxsize=1)
def _rouge() -> RougeScorer:
    return RougeScorer(["rougeL"], use_stemmer=False)


_WORDS = DefaultTokenizer(use_stemmer=False)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 (uniform weights, brevity penalty, no smoothing), 0..1."""
    _check(hypotheses, references, "BLEU")
    return _bleu().corpus_score(list(hypotheses), [list(references)]).score / 100.0


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF2, 0..1."""
    _check(hypotheses, references, "chrF")
    return _chrf().corpus_score(list(hypotheses), [list(references)]).score / 100.0


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 of one hypothesis against one reference; 1.0 when both have no words."""
    if not _WORDS.tokenize(hypothesis) and not _WORDS.tokenize(reference):
        return 1.0
    return float(_rouge().score(reference, hypothesis)["rougeL"].fmeasure)


def mean_rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean per-draft ROUGE-L F1."""
    _check(hypotheses, references, "ROUGE-L")
    return sum(rouge_l(h, r) for h, r in zip(hypotheses, references, strict=True)) / len(hypotheses)
