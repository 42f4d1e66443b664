"""Cosine nearest neighbours as pure numpy: the exact answer both the Spark pass and the tests rely on.

Ties are broken by customer id (ascending), so the answer does not depend on
partitioning or batch boundaries.
"""

from __future__ import annotations

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; an all-zero row stays zero (similarity 0 with everything)."""
    x = np.asarray(x, dtype=float)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(np.divide(x, norms, out=np.zeros_like(x), where=norms > 0), dtype=float)


def top_k(similarity: np.ndarray, ids: np.ndarray, k: int, exclude: np.ndarray | None = None) -> list[np.ndarray]:
    """Per column (seed) of an n x s similarity matrix: the row indices of the k best, best first.

    Order: similarity descending, then id ascending. `exclude` (n x s booleans)
    removes pairs, e.g. a seed from its own list.
    """
    n, s = similarity.shape
    out = []
    for j in range(s):
        sim = similarity[:, j]
        keep = np.ones(n, dtype=bool) if exclude is None else ~exclude[:, j]
        rows = np.flatnonzero(keep)
        if rows.size > k:
            # Everything at least as similar as the k-th best (ties included), then an exact sort.
            kth = np.partition(sim[rows], rows.size - k)[rows.size - k]
            rows = rows[sim[rows] >= kth]
        order = np.lexsort((ids[rows], -sim[rows]))
        out.append(rows[order][:k])
    return out
