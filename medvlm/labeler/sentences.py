"""Sentence and clause splitting for report text.

Reports are short and telegraphic ("Heart size normal. No pneumothorax or effusion; stable left base
scarring."), so simple rules do: a sentence ends at . ? ! or a newline unless the dot sits inside a number
("1.5 cm") or after a list number ("1. No acute disease."). Clauses split a sentence where the scope of a
negation or an uncertainty word ends ("No effusion, but there is mild atelectasis").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence break: terminal punctuation (not between digits), or a line break.
_SENTENCE_END = re.compile(r"(?<!\d)[.?!]+(?=\s|$|[A-Z])|(?<=\d)[.?!]+(?=\s+[A-Za-z]|$)|\n+")
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}\s*$")

# Words and marks after which a negation or uncertainty cue stops applying.
CLAUSE_BREAK = re.compile(
    r";|:|\bbut\b|\bhowever\b|\balthough\b|\bthough\b|\bwhereas\b|\bexcept\b|\bapart from\b|\baside from\b"
    r"|\bwith the exception of\b|\bwhich\b|\bwith\b(?= (?:a|an|the|mild|small|moderate|large|minimal|stable|"
    r"persistent|new|unchanged|increased|decreased|left|right|bilateral)\b)"
    r"|,\s*(?=(?:there is|there are|there has|there have|and there|the|stable|unchanged|persistent|again)\b)"
    r"|\band (?=(?:there is|there are|there has|there have)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    text: str
    start: int  # offset in the text it was cut from
    end: int


def split_sentences(text: str) -> list[Span]:
    """Sentences of ``text`` with their offsets; list numbers ("1.") and empty pieces are dropped."""
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        _add(spans, text, start, match.end())
        start = match.end()
    _add(spans, text, start, len(text))
    return spans


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip(" \t\n.?!")
    if not stripped or _LIST_NUMBER.match(stripped):
        return
    offset = start + piece.index(stripped[0])
    spans.append(Span(stripped, offset, offset + len(stripped)))


def split_clauses(sentence: str) -> list[Span]:
    """Clauses of one sentence (offsets within the sentence), cut where negation scope ends."""
    spans: list[Span] = []
    start = 0
    for match in CLAUSE_BREAK.finditer(sentence):
        if match.start() > start:
            spans.append(Span(sentence[start : match.start()], start, match.start()))
        start = match.end() if match.group(0) in (";", ":") else match.start()
    spans.append(Span(sentence[start:], start, len(sentence)))
    return [s for s in spans if s.text.strip()]
