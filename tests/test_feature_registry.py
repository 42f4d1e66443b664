"""The feature registry declares each feature once; conf/axes.yaml only selects from it."""

from __future__ import annotations

import pytest
import yaml

from segspark.config import shipped_file
from segspark.exc import ConfigError
from segspark.features.axes import Transform, load_axes, parse_axes
from segspark.features.engine import BLOCKS
from segspark.features.registry import AXES, BY_AXIS, FEATURES, block_columns


def test_registry_is_consistent_with_the_engine() -> None:
    columns = [f.column for f in FEATURES]
    assert len(columns) == len(set(columns))
    assert {b.name for b in BLOCKS} == {f.block for f in FEATURES}  # every block computed, no stray one
    assert sorted(c for b in BLOCKS for c in b.produces) == sorted(columns)
    for name, axis in AXES.items():
        assert axis.primary in BY_AXIS[name] and "orders" in axis.needs, name
    assert block_columns("prices") == ("value_sophistication__price_point_comfort", "value_sophistication__luxury_rate")


def test_the_shipped_axes_file_only_selects() -> None:
    shipped = yaml.safe_load(shipped_file("axes.yaml").read_text())["axes"]
    assert list(shipped) == list(AXES)
    for name, raw in shipped.items():
        assert set(raw) <= {"enabled", "marketing", "primary", "features"}, name  # no needs, no transforms
        assert raw["features"] == list(BY_AXIS[name]), name
    for axis in load_axes():
        for feature, transform in axis.features.items():
            declared = BY_AXIS[axis.name][feature]
            assert transform == Transform(declared.transform, declared.clip)
        assert axis.needs == AXES[axis.name].needs


def test_a_selection_may_drop_features_and_override_transforms() -> None:
    doc = {
        "axes": {
            "purchase_value": {"features": {"avg_order_value": "none", "value_trend": None}},
            "return_behavior": {"features": ["return_value_ratio"], "needs": ["product"]},
        }
    }
    value, returns = parse_axes(doc, "mine.yaml")
    assert value.features == {"avg_order_value": Transform("none"), "value_trend": Transform("clip", (0.01, 0.99))}
    assert value.primary == "avg_order_value" and value.marketing  # the registry's defaults
    assert list(returns.features) == ["return_value_ratio"] and returns.primary == "return_value_ratio"
    assert returns.needs == ("orders", "returns", "product")  # the file adds to the registry's needs
    with pytest.raises(ConfigError, match=r"axis purchase_value: unknown feature\(s\) \['basket_size'\]"):
        parse_axes({"axes": {"purchase_value": {"features": ["basket_size"]}}}, "mine.yaml")
    with pytest.raises(ConfigError, match="needs at least one feature"):
        parse_axes({"axes": {"purchase_value": {"features": []}}}, "mine.yaml")
