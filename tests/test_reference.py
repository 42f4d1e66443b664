"""The benchmark yardstick (bench/reference.py) is only worth its ratios if it computes what segspark does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

ROOT = Path(__file__).resolve().parents[1]


def load_reference():  # type: ignore[no-untyped-def]
    """bench/reference.py as a module (bench/ is scripts, not a package)."""
    if "segspark_reference" not in sys.modules:
        spec = importlib.util.spec_from_file_location("segspark_reference", ROOT / "bench" / "reference.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["segspark_reference"] = module
        spec.loader.exec_module(module)
    return sys.modules["segspark_reference"]


@pytest.mark.parametrize("k", [2, 3, 5])
def test_closed_form_silhouette_is_the_pairwise_squared_euclidean_one(k: int) -> None:
    # ClusteringEvaluator's closed form must equal the textbook silhouette over squared distances, including
    # clusters of one point (score 0).
    rng = np.random.default_rng(k)
    x = np.vstack([rng.normal(loc=3 * i, size=(40 + 7 * i, 3)) for i in range(k)] + [np.full((1, 3), 50.0)])
    labels = np.concatenate([np.full(40 + 7 * i, i) for i in range(k)] + [np.array([k])])
    expected = silhouette_score(x, labels, metric="sqeuclidean")
    assert load_reference().silhouette(x, labels) == pytest.approx(expected, abs=1e-12)


def test_memberships_are_a_softmax_of_minus_the_distances() -> None:
    ref = load_reference()
    import pandas as pd

    table = pd.DataFrame({"a__x": [0.0, 1.0, np.nan], "a__y": [2.0, 0.0, 1.0]})
    fit = ref.AxisFit(
        ["a__x", "a__y"],
        [("none", 0.5, 0, 0), ("none", 1.0, 0, 0)],
        np.zeros(2),
        np.ones(2),
        np.array([[0.0, 0.0], [1.0, 1.0]]),
        2,
        {},
    )
    m = ref.score(table, {"a": fit})["a"]
    # Customer 3 is imputed to (0.5, 1.0): distances sqrt(1.25) and sqrt(0.25).
    d = np.array([np.sqrt(1.25), np.sqrt(0.25)])
    assert m[2] == pytest.approx(np.exp(-d) / np.exp(-d).sum())
    assert m.sum(axis=1) == pytest.approx(np.ones(3))
