"""The scoring core in plain numpy: the seed's worked example, stability, strength rules, hand distances."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from segspark.model.identity import archetype_id
from segspark.score.core import (
    STRENGTHS,
    ScoringModel,
    archetype_keys,
    axis_distances,
    level3_document,
    memberships,
    profile_record,
    score,
    strength_codes,
)
from tests.conftest import REPO
from tests.hand_model import hand_manifest


def test_seed_worked_example() -> None:
    m = memberships(np.array([[0.5, 2.0, 3.5]]))
    assert np.round(m[0], 3).tolist() == [0.786, 0.175, 0.039]


def test_memberships_sum_to_one() -> None:
    d = np.random.default_rng(3).uniform(0, 20, size=(1000, 6))
    assert np.max(np.abs(memberships(d).sum(axis=1) - 1.0)) <= 1e-12


@pytest.mark.parametrize("row", [[1e3, 1e3 + 1, 5e3], [1e6, 1e6], [1e300, 1e300, 1e300], [0.0, 1e308], [2e3, 1e3, 7e3]])
def test_large_distances_stay_finite(row: list[float]) -> None:
    m = memberships(np.array([row]))
    assert np.all(np.isfinite(m))
    assert abs(m.sum() - 1.0) <= 1e-12
    assert int(np.argmax(m)) == int(np.argmin(row))


def test_equal_distances_share_equally() -> None:
    assert memberships(np.array([[1e4, 1e4, 1e4, 1e4]]))[0].tolist() == [0.25] * 4


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ([0.7, 0.3], "weak"),  # 0.7 is not > 0.7; 0.3 is not > 0.3
        ([0.7000001, 0.2999999], "strong"),
        ([0.7, 0.2, 0.1], "weak"),
        ([0.4, 0.35, 0.25], "weak"),  # primary exactly 0.4 is not > 0.4
        ([0.40001, 0.35, 0.24999], "balanced"),
        ([0.45, 0.3, 0.25], "weak"),  # secondary exactly 0.3 is not > 0.3
        ([0.45, 0.30001, 0.24999], "balanced"),
        ([0.35, 0.33, 0.32], "weak"),
        ([1.0], "strong"),  # one segment: secondary is 0
    ],
)
def test_strength_boundaries(row: list[float], expected: str) -> None:
    code = strength_codes(np.array([row[::-1]]))  # order of segments must not matter
    assert STRENGTHS[int(code[0])] == expected


def test_distances_by_hand() -> None:
    model = ScoringModel.from_manifest(hand_manifest())
    freq = model.axes["freq"]
    raw = np.array([[0.0, 0.0], [3.0, 4.0], [np.nan, np.nan]])
    d = axis_distances(freq, raw)
    # Row 3 is imputed to (1, 2): distances sqrt(5), sqrt(8), sqrt(65).
    expected = [[0.0, 5.0, 10.0], [5.0, 0.0, math.sqrt(9 + 36)], [math.sqrt(5), math.sqrt(8), math.sqrt(65)]]
    np.testing.assert_allclose(d, expected, rtol=0, atol=1e-12)


def test_transform_then_scale_by_hand() -> None:
    value = ScoringModel.from_manifest(hand_manifest()).axes["value"]
    # v = e^3 - 1 -> log1p = 3 -> (3 - 1) / 2 = 1: at centre 2, distance 2 from centre 1.
    # v = -5 (negative money) -> log1p(max(v, 0)) = 0 -> -0.5: distances 0.5 and 1.5.
    d = axis_distances(value, np.array([[math.e**3 - 1], [-5.0]]))
    np.testing.assert_allclose(d, [[2.0, 0.0], [0.5, 1.5]], rtol=0, atol=1e-12)


OBSERVED = {a["key"] for a in hand_manifest().archetypes}


def test_score_record_and_document() -> None:
    model = ScoringModel.from_manifest(hand_manifest())
    raw = np.array([[3.0, 4.0, math.e**3 - 1], [0.0, 10.0, 0.0]])
    s = score(model, raw)
    keys = archetype_keys(model, s)
    assert keys == ["freq_s1|value_s1", "freq_s2|value_s0"]
    first = profile_record(model, s, 0, keys, OBSERVED)
    assert first["dominant_segments"] == {"freq": "freq_s1", "value": "value_s1"}
    assert first["segment_tiers"] == {"freq": 3, "value": 2}
    assert first["archetype_is_new"] is False
    second = profile_record(model, s, 1, keys, OBSERVED)
    assert second["archetype_is_new"] is True
    assert second["segment_tiers"]["freq"] == 1
    # Fingerprint: freq's three distances, then value's two, in segment order.
    assert first["fingerprint"] == pytest.approx([5.0, 0.0, math.sqrt(9 + 36), 2.0, 0.0], abs=1e-12)
    doc = level3_document(model, {**first, "customer_id": "C1"})
    assert doc["behavioral_fingerprint"]["freq"]["freq_s1"]["distance"] == pytest.approx(0.0)
    assert doc["distance_vector_layout"][3] == "value/value_s0"
    json.dumps(doc)  # the document is plain JSON


def test_unseen_archetype_id_is_the_same_in_another_process() -> None:
    key = "freq_s2|value_s0"
    code = f"from segspark.model.identity import archetype_id; print(archetype_id({key!r}))"
    other = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == archetype_id(key)
    assert archetype_id(key) != archetype_id("freq_s0|value_s0")
