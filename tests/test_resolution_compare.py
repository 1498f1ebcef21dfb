"""Edit distances computed once per distinct value pair equal those computed row by row."""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, Levenshtein

from matchers.resolution.compare import _cpdist


def _row_by_row(a: list, b: list, scorer, where: list | None) -> np.ndarray:
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x is None or y is None:
            out.append(99)
        elif x == y:
            out.append(0)
        elif where is not None and not where[i]:
            out.append(99)
        else:
            out.append(scorer(x, y))
    return np.array(out)


def test_distinct_value_distances_match_row_by_row():
    rng = np.random.default_rng(7)
    values = ["张伟", "张玮", "王芳", "王方芳", "李?", "42010619800305123", "42010619800350123", None]
    a = [values[i] for i in rng.integers(0, len(values), 2000)]
    b = [values[i] for i in rng.integers(0, len(values), 2000)]
    where = list(rng.random(2000) > 0.4)
    for scorer in (Levenshtein.distance, OSA.distance):
        for w in (None, where):
            got = _cpdist(pl.Series(a, dtype=pl.String), pl.Series(b, dtype=pl.String), scorer,
                          None if w is None else pl.Series(w))
            assert (got == _row_by_row(a, b, scorer, w)).all()
