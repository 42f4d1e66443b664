"""The numpy parts of fitting: identity matching, tiers, names, transforms, manifest checks."""

from __future__ import annotations

import numpy as np
import pytest

from segspark.exc import SegsparkError
from segspark.model import identity, naming
from segspark.model.transforms import inverse_transform, numpy_transform, scale

OLD = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
OLD_IDS = ["ax/s1", "ax/s2", "ax/s3"]


def test_match_keeps_ids_of_permuted_centres() -> None:
    new = OLD[[2, 0, 1]] + 0.1
    found = identity.match("ax", new, OLD, OLD_IDS, new_primary=new[:, 0], max_distance=1.0)
    assert found.ids == ["ax/s3", "ax/s1", "ax/s2"]
    assert not found.births and not found.retired


def test_new_centre_is_a_birth_and_a_split() -> None:
    new = np.vstack([OLD, [[5.0, 1.4]]])  # a second centre near ax/s2
    found = identity.match("ax", new, OLD, OLD_IDS, new_primary=new[:, 0], max_distance=1.0)
    assert found.ids[:3] == OLD_IDS
    assert found.births == ["ax/s4"]
    assert found.splits == {"ax/s2": ["ax/s4"]}


def test_lost_centre_is_retired_and_merged() -> None:
    new = np.array([[0.0, 0.0], [2.5, 2.4]])  # s2 (3.47 away) and s3 (3.61 away) collapse into one
    found = identity.match("ax", new, OLD, OLD_IDS, new_primary=new[:, 0], max_distance=4.0)
    assert found.ids == ["ax/s1", "ax/s2"]
    assert found.retired == ["ax/s3"]
    assert found.merges == {"ax/s2": ["ax/s3"]}


def test_far_centres_do_not_match() -> None:
    found = identity.match("ax", OLD + 10.0, OLD, OLD_IDS, new_primary=(OLD + 10)[:, 0], max_distance=1.0)
    assert found.births == ["ax/s4", "ax/s5", "ax/s6"]
    assert found.retired == OLD_IDS


def test_tiers_and_first_ids_follow_the_primary_feature() -> None:
    primary = np.array([3.0, 1.0, 2.0])
    assert identity.tiers(primary) == [3, 1, 2]
    assert identity.first_ids("f", primary) == ["f/s3", "f/s1", "f/s2"]


def test_deterministic_names_read_as_traits_and_stay_unique() -> None:
    features = ["orders_per_month", "avg_days_between_orders"]
    z = np.array([[2.0, 0.1], [1.1, 0.2], [-1.0, 3.0], [0.1, 0.2], [1.2, -0.9]])
    names = naming.deterministic_names("purchase_frequency", features, z)
    # The strongest deviation in the vocabulary's words; a weaker segment sharing it gets its second
    # deviation when it has one, else an intensity word; never a number.
    assert names[2] == "long_gaps"
    assert names[0] == "frequent_buyers"
    assert names[4] == "frequent_buyers_short_gaps"
    assert names[1] == "mildly_frequent_buyers"
    assert names[3] == "typical_purchase_frequency"


def test_deterministic_names_keep_the_naming_rule_on_every_feature() -> None:
    from segspark.features.axes import KNOWN

    rng = np.random.default_rng(7)
    for axis, feats in KNOWN.items():
        features = list(feats)
        assert set(features) <= set(naming.VOCABULARY), f"{axis}: features without words"
        for _ in range(20):
            z = rng.normal(scale=1.5, size=(6, len(features)))
            names = naming.deterministic_names(axis, features, z)
            assert len(set(names)) == 6, names
            for name in names:
                assert naming.NAME.match(name) and len(name) <= 40, name
                assert "tier" not in name


def test_kept_names_are_not_reused() -> None:
    z = np.array([[2.0, 0.1], [1.9, 0.1]])
    names = naming.unique_names(
        "ax", ["orders_per_month", "avg_days_between_orders"], z, fixed=[None, "frequent_buyers"]
    )
    assert names[1] == "frequent_buyers" and names[0] != "frequent_buyers"


def test_transforms_and_inverse() -> None:
    x = np.array([np.nan, 0.0, 9.0, -4.0])
    assert numpy_transform(x, {"kind": "log1p"}, impute=1.0).tolist() == pytest.approx(
        np.log1p([1.0, 0, 9, 0]).tolist()
    )
    signed = numpy_transform(x, {"kind": "signed_log1p"}, impute=0.0)
    assert inverse_transform(signed, {"kind": "signed_log1p"}).tolist() == pytest.approx([0.0, 0.0, 9.0, -4.0])
    assert numpy_transform(x, {"kind": "clip", "low": -1.0, "high": 5.0}, impute=2.0).tolist() == [2.0, 0.0, 5.0, -1.0]
    assert scale(np.array([[1.0, 7.0]]), np.array([0.0, 7.0]), np.array([2.0, 0.0])).tolist() == [[0.5, 0.0]]


def test_check_columns_names_the_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from segspark.model.manifest import AxisModel, Manifest

    ax = AxisModel(
        ["a"],
        ["x__a"],
        "a",
        {"a": {"kind": "none"}},
        {"a": 0.0},
        [0.0],
        [1.0],
        [[0.0]],
        [[0.0]],
        ["x/s1"],
        [1],
        ["n"],
        ["i"],
        [1],
        {"2": 0.5},
        1,
        {},
    )
    m = Manifest("m1", "2024-01-01", "src", "fp", {"x": ax}, ["x"], [])
    with pytest.raises(SegsparkError, match=r"missing column\(s\) \['x__a'\]"):
        m.check_columns(["customer_id", "x__b"])
    assert Manifest.from_dict(__import__("json").loads(m.to_json())) == m
