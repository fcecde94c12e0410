"""BLEU-4, ROUGE-L (sacrebleu / rouge-score) against cases computed by hand, and chrF."""

from __future__ import annotations

import math

import pytest

from medvlm.evaluation.text import corpus_bleu, corpus_chrf, mean_rouge_l, rouge_l


def test_bleu_is_case_insensitive_and_on_a_0_to_1_scale() -> None:
    assert corpus_bleu(["The Heart Size Is Normal ."], ["the heart size is normal ."]) == pytest.approx(1.0)


def test_rouge_l_ignores_punctuation() -> None:
    # rouge-score drops punctuation (the hand-written scorer counted "." and "," as words)
    assert rouge_l("No effusion, no pneumothorax.", "no effusion no pneumothorax") == pytest.approx(1.0)


def test_chrf_identical_is_one_and_disjoint_is_zero() -> None:
    assert corpus_chrf(["the lungs are clear"], ["the lungs are clear"]) == pytest.approx(1.0)
    assert corpus_chrf(["xyz"], ["abc"]) == 0.0
    partial = corpus_chrf(["small left effusion"], ["small right effusion"])
    assert 0.0 < partial < 1.0
    with pytest.raises(ValueError, match="chrF"):
        corpus_chrf(["a"], [])


def test_bleu_identical_is_one() -> None:
    text = "the heart size is normal and the lungs are clear"
    assert corpus_bleu([text], [text]) == pytest.approx(1.0)


def test_bleu_hand_computed() -> None:
    # hyp: a b c d e f (6), ref: a b c d x f g (7)
    # 1-grams: a b c d f match 5/6; 2-grams ab bc cd match 3/5; 3-grams abc bcd 2/4; 4-grams abcd 1/3
    hyp, ref = "a b c d e f", "a b c d x f g"
    precision = math.exp((math.log(5 / 6) + math.log(3 / 5) + math.log(2 / 4) + math.log(1 / 3)) / 4)
    brevity = math.exp(1 - 7 / 6)
    assert corpus_bleu([hyp], [ref]) == pytest.approx(brevity * precision)


def test_bleu_clips_repeated_words() -> None:
    # hyp "a a a a a" vs ref "a b c d e": clipped unigram 1/5, no bigram match -> 0
    assert corpus_bleu(["a a a a a"], ["a b c d e"]) == 0.0


def test_bleu_is_corpus_level() -> None:
    # second pair alone has no 4-gram match, but the corpus pools counts
    pairs = [("a b c d", "a b c d"), ("x y z", "x y w")]
    got = corpus_bleu([h for h, _ in pairs], [r for _, r in pairs])
    # 1g: 4+2 / 4+3 ; 2g: 3+1 / 3+2 ; 3g: 2+0 / 2+1 ; 4g: 1+0 / 1+0 ; lengths equal -> BP 1
    expected = math.exp((math.log(6 / 7) + math.log(4 / 5) + math.log(2 / 3) + math.log(1 / 1)) / 4)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(("hyps", "refs"), [([], []), (["a"], ["a", "b"])])
def test_bleu_rejects_bad_lists(hyps: list[str], refs: list[str]) -> None:
    with pytest.raises(ValueError):
        corpus_bleu(hyps, refs)


@pytest.mark.parametrize(
    ("hyp", "ref", "expected"),
    [
        ("a b c d", "a b c d", 1.0),
        # LCS(a c e, a b c d e) = 3 -> P 3/3, R 3/5 -> F = 2*1*0.6/1.6 = 0.75
        ("a c e", "a b c d e", 0.75),
        ("x y", "a b", 0.0),
        ("", "", 1.0),
        ("", "a", 0.0),
        # LCS(the lungs are clear, lungs are not clear) = lungs are clear (3) -> P 3/4 R 3/4
        ("The lungs are clear", "Lungs are not clear", 0.75),
    ],
)
def test_rouge_l_hand_cases(hyp: str, ref: str, expected: float) -> None:
    assert rouge_l(hyp, ref) == pytest.approx(expected)


def test_mean_rouge_l() -> None:
    assert mean_rouge_l(["a b c d", "x y"], ["a b c d", "a b"]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mean_rouge_l([], [])
