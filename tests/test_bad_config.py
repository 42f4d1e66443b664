"""Thirty bad configuration and mapping files, each rejected by `segspark run` before Spark starts, in one
line that names the key (issue 23). Spark is made to fail if anything asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from segspark import context
from segspark.cli import main
from tests.conftest import FIXTURES

# (a config overlay as YAML text, what the error must say)
CONFIGS = [
    ("fit:\n  k_mx: 4\n", "'fit.k_mx'"),
    ("fitting:\n  k_max: 4\n", "'fitting'"),
    ("fit:\n  k_max: four\n", "'fit.k_max'"),
    ("fit:\n  k_max: true\n", "'fit.k_max'"),
    ("fit:\n  tol: [1, 2]\n", "'fit.tol'"),
    ("fit: 3\n", "'fit'"),
    ("warehouse:\n  format: orc\n", "warehouse.format"),
    ("- just\n- a list\n", "top level"),
    ("fit:\n  k_max: [4\n", "not valid YAML"),
    ("drift:\n  baselines: seven\n", "'drift.baselines'"),
    ("fit:\n  k_min: 5\n  k_max: 3\n", "fit.k_min"),
    ("fit:\n  k_min: 1\n", "fit.k_min"),
    ("fit:\n  min_segment_share: 1.5\n", "fit.min_segment_share"),
    ("history:\n  backfill_offsets: [7, -14]\n", "history.backfill_offsets"),
    ("ingest:\n  max_malformed_fraction: 2\n", "ingest.max_malformed_fraction"),
    ("ingest:\n  max_order_ts: yesterday\n", "ingest.max_order_ts"),
]

# (a change to a good mapping, what the error must say)
BASE = {
    "name": "bad_shop",
    "source": {"path": str(FIXTURES / "shop_export.csv"), "format": "csv"},
    "columns": {"customer_id": "c", "order_id": "o", "order_ts": "t", "quantity": "q", "unit_price": "p"},
}
MAPPINGS = [
    ({"columns": {"customer_id": "c"}}, "required canonical column"),
    ({"columns": {**BASE["columns"], "colour": "x"}}, "colour"),
    ({"timestamp": {"zone": "Mars/Olympus"}}, "timestamp.zone"),
    ({"duplicates": "maybe"}, "duplicates"),
    ({"sauce": 1}, "sauce"),
    ({"source": {"path": "x.csv", "format": "xlsx"}}, "source.format"),
    ({"exclude_product_patterns": {"non_product": ["("]}}, "exclude_product_patterns"),
    ({"timestamp": {"epoch_unit": "fortnight"}}, "epoch_unit"),
    ({"timestamp": {"dateonly": True}}, "dateonly"),
    ({"tickets": {"source": {"path": "t.csv"}, "columns": {"customer_id": "c"}}}, "created_ts"),
    ({"tickets": {"columns": {"customer_id": "c", "created_ts": "t"}}}, "tickets.source.path"),
    ({"columns": "customer_id"}, "columns"),
    ({"returns": {"negative_qty": True}}, "negative_qty"),
    ({"source": {"format": "csv"}}, "source.path"),
]
CASES = [("config", text, message) for text, message in CONFIGS] + [
    ("mapping", yaml.safe_dump({**BASE, **change}), message) for change, message in MAPPINGS
]


def test_thirty_cases() -> None:
    assert len(CASES) == 30


@pytest.mark.parametrize(("kind", "text", "message"), CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CASES)])
def test_bad_file_is_rejected_before_spark_with_the_key_named(
    kind: str,
    text: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_spark(*_: object, **__: object) -> None:
        raise AssertionError("Spark was started for a file that should have been refused")

    monkeypatch.setattr(context, "get_spark", no_spark)
    good_mapping = tmp_path / "good.yaml"
    good_mapping.write_text(yaml.safe_dump(BASE))
    bad = tmp_path / f"bad_{kind}.yaml"
    bad.write_text(text)
    args = ["run", "--set", f"warehouse.root={tmp_path / 'wh'}"]
    args += ["--config", str(bad), "--source", str(good_mapping)] if kind == "config" else ["--source", str(bad)]
    code = main(args)
    err = capsys.readouterr().err
    assert code in (1, 2) and "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("segspark")]  # the log's own lines aside
    assert message in line, line
    assert bad.name in line or kind == "config", line  # a value error names its key; the file is in --config
    assert not (tmp_path / "wh" / "orders").exists()
