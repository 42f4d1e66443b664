"""Mapping files: presets load, mistakes are reported with the mapping's name."""

from __future__ import annotations

from typing import Any

import pytest

from segspark.exc import MappingError
from segspark.mapping import load_mapping, parse_mapping

BASE: dict[str, Any] = {
    "source": {"path": "x.csv", "format": "csv"},
    "columns": {"customer_id": "c", "order_id": "o", "order_ts": "t", "quantity": "q", "unit_price": "p"},
}


def test_presets_load() -> None:
    orii = load_mapping("online_retail_ii")
    assert orii.zone == "Europe/London"
    assert "POST" in orii.exclude_products["non_product_line"]
    cj = load_mapping("complete_journey")
    assert cj.has("category") and cj.has("discount_amount") and not cj.has("channel")
    synthetic = load_mapping("synthetic")
    assert synthetic.has("channel")
    assert synthetic.tickets is not None and synthetic.tickets.has("satisfaction") and synthetic.tickets.zone == "UTC"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": {"customer_id": "c"}}, r"required canonical column\(s\) not mapped"),
        ({"columns": {**BASE["columns"], "colour": "x"}}, "unknown canonical column"),
        ({"timestamp": {"zone": "Mars/Olympus"}}, "not an IANA time zone"),
        ({"duplicates": "maybe"}, "duplicates must be"),
        ({"sauce": 1}, "unknown key"),
        ({"source": {"path": "x", "format": "xlsx"}}, "source.format"),
        ({"exclude_product_patterns": {"non_product": ["("]}}, "bad regex"),
        ({"timestamp": {"epoch_unit": "fortnight"}}, "epoch_unit"),
        ({"timestamp": {"date_only": "sometimes"}}, "timestamp.date_only must be"),
        ({"timestamp": {"dateonly": True}}, r"unknown timestamp key\(s\) \['dateonly'\]"),
        (
            {"tickets": {"source": {"path": "t.csv"}, "columns": {"customer_id": "c"}}},
            r"tickets: required column\(s\) not mapped: \['created_ts'\]",
        ),
        (
            {"tickets": {"source": {"path": "t.csv"}, "columns": {"customer_id": "c", "created_ts": "t", "mood": "m"}}},
            r"tickets.columns: unknown column\(s\) \['mood'\]",
        ),
        ({"tickets": {"columns": {"customer_id": "c", "created_ts": "t"}}}, "tickets.source.path is required"),
        (
            {"tickets": {"source": {"path": "t"}, "columns": {"customer_id": "c", "created_ts": "t"}, "sla": 1}},
            r"tickets: unknown key\(s\) \['sla'\]",
        ),
    ],
)
def test_invalid_mappings(change: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping({**BASE, **change}, "test.yaml")


def test_unit_price_may_be_derived_from_line_amount() -> None:
    cols = {k: v for k, v in BASE["columns"].items() if k != "unit_price"}
    m = parse_mapping({**BASE, "columns": {**cols, "line_amount": "a"}}, "t.yaml")
    assert m.has("line_amount") and not m.has("unit_price")


def test_missing_file() -> None:
    with pytest.raises(MappingError, match="not found"):
        load_mapping("no_such_preset")
