"""Real films by group: the view as the labels write it (PA, AP, AP Supine) and the source collection.

Per group of accepted films, the share the model flags as unlike its training films and the share it drafts
as normal. A site's integrator reads from it which of their films the model finds strange (portable supine
films, one vendor's collection) before trusting its drafts there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

GROUP_COLUMNS = ("view", "source")  # labels.csv columns
MIN_FILMS = 10  # a smaller group's shares are mostly noise


def film_groups(row: Mapping[str, str | None]) -> dict[str, str]:
    """The groups a labels.csv row names (blank columns name none)."""
    return {c: value for c in GROUP_COLUMNS if (value := (row.get(c) or "").strip())}


def by_group(groups: Sequence[Mapping[str, str]], unfamiliar: Sequence[bool], normal: Sequence[bool],
             min_films: int | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """{column: {value: {films, unfamiliar, drafted_normal}}} over the accepted films, for values of at
    least ``min_films`` (default ``MIN_FILMS``) films in columns with two such values or more."""
    min_films = MIN_FILMS if min_films is None else min_films
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for column in GROUP_COLUMNS:
        members: dict[str, list[int]] = defaultdict(list)
        for i, film_group in enumerate(groups):
            if column in film_group:
                members[film_group[column]].append(i)
        kept = {value: rows for value, rows in sorted(members.items()) if len(rows) >= min_films}
        if len(kept) < 2:
            continue
        out[column] = {value: {"films": len(rows),
                               "unfamiliar": round(sum(unfamiliar[i] for i in rows) / len(rows), 4),
                               "drafted_normal": round(sum(normal[i] for i in rows) / len(rows), 4)}
                       for value, rows in kept.items()}
    return out


def group_lines(groups: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """One summary line per column: each value's films, unfamiliar share and drafted-normal share."""
    def cell(value: str, s: Mapping[str, Any]) -> str:
        return f"{value} {s['films']}, {s['unfamiliar']:.2f}, {s['drafted_normal']:.2f}"

    return [f"by {column} (films, unfamiliar, drafted normal): "
            + "; ".join(cell(value, s) for value, s in values.items())
            for column, values in groups.items()]
