"""Layered configuration: validation names the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from segspark.config import load_config, parse_set
from segspark.exc import ConfigError


def test_defaults_load() -> None:
    cfg = load_config()
    assert cfg.get("ingest.max_malformed_fraction") == 0.01
    assert cfg.get("warehouse.format") == "parquet"


def test_overlay_then_set_wins(tmp_path: Path) -> None:
    overlay = tmp_path / "env.yaml"
    overlay.write_text("spark:\n  shuffle_partitions: 64\nwarehouse:\n  root: /data/wh\n")
    cfg = load_config([overlay], ["spark.shuffle_partitions=16", "ingest.max_malformed_fraction=0.05"])
    assert cfg.get("spark.shuffle_partitions") == 16
    assert cfg.get("warehouse.root") == "/data/wh"
    assert cfg.get("ingest.max_malformed_fraction") == 0.05


def test_unknown_key_is_named(tmp_path: Path) -> None:
    overlay = tmp_path / "env.yaml"
    overlay.write_text("ingest:\n  max_malformed_fractoin: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown configuration key 'ingest.max_malformed_fractoin'"):
        load_config([overlay])


def test_wrong_type_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'spark.shuffle_partitions' must be int, got str"):
        load_config(sets=["spark.shuffle_partitions=many"])
    with pytest.raises(ConfigError, match=r"'spark.ui_enabled' must be bool"):
        load_config(sets=["spark.ui_enabled=3"])


def test_int_accepted_for_float_but_not_bool() -> None:
    assert load_config(sets=["ingest.max_malformed_fraction=1"]).get("ingest.max_malformed_fraction") == 1.0
    with pytest.raises(ConfigError):
        load_config(sets=["ingest.max_malformed_fraction=true"])


def test_parse_set_rejects_missing_equals() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_set("spark.master")
    assert parse_set("a.b=[1, 2]") == (["a", "b"], [1, 2])


def test_shipped_env_overlays_are_valid() -> None:
    conf = Path(__file__).resolve().parent.parent / "conf"
    for overlay in conf.glob("*.yaml"):
        if overlay.name not in ("base.yaml", "axes.yaml"):
            load_config([overlay])
