"""A stage's training records from several sources, each with its share (``Stage.mix``).

Without a mix every record of every source is used once per epoch (as before). With one, the epoch keeps
its length (the sources' records added up) and source ``s`` fills ``mix[s] / sum(mix)`` of it: a small
real import weighed 3 against 1 for thousands of rendered films is repeated, a large one subsampled. Which
records are repeated or left out is a seeded shuffle per source, so a resumed run sees the same list.
"""

from __future__ import annotations

import random
from typing import Any


def mixed_records(sources: list[str], records: dict[str, list[Any]], mix: dict[str, float] | None,
                  seed: int) -> list[Any]:
    if not mix:
        return [r for name in sources for r in records[name]]
    total = sum(len(records[name]) for name in sources)
    weight = sum(mix[name] for name in sources)
    out: list[Any] = []
    for name in sources:
        pool = records[name]
        count = max(1, round(total * mix[name] / weight))
        rng = random.Random(f"{seed}:{name}")
        order = list(range(len(pool)))
        picked: list[int] = []
        while len(picked) < count:  # whole shuffled passes first: every record before any repeat
            rng.shuffle(order)
            picked += order[: count - len(picked)]
        out += [pool[i] for i in picked]
    return out
