"""Fuzzed order exports through ingestion (issue 23): every file ends in exact quarantine accounting or in a
clear one-line error naming the file, never a bare traceback, never a half-written table.

Hypothesis writes CSV exports with wrong types, missing, extra and duplicated columns, byte order marks,
bad encodings, NaN and infinities, huge values, empty and header-only files and mixed time-zone suffixes.
The suite tries a sample (SEGSPARK_FUZZ_EXAMPLES, default 8); scripts/fuzz.sh tries 250.

Expected counts come from the generator: it knows how many data lines it wrote.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from segspark.exc import SegsparkError
from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.paths import check_warehouse
from segspark.tables import committed, read_partitions

EXAMPLES = int(os.environ.get("SEGSPARK_FUZZ_EXAMPLES", "8"))
HEADER = ["cust", "invoice", "ts", "qty", "price", "sku"]
MAPPING = {
    "name": "fuzzed",
    "source": {"path": "unused.csv", "format": "csv"},
    "columns": {
        "customer_id": "cust",
        "order_id": "invoice",
        "order_ts": "ts",
        "quantity": "qty",
        "unit_price": "price",
        "product_id": "sku",
    },
    "timestamp": {"format": "yyyy-MM-dd HH:mm:ss", "zone": "UTC"},
    "returns": {"negative_quantity": True},
}

good = {
    "cust": st.sampled_from(["C1", "C2", "C3", "4711"]),
    "invoice": st.sampled_from(["I1", "I2", "I3"]),
    "ts": st.sampled_from(["2024-01-05 10:00:00", "2024-02-29 23:59:59"]),
    "qty": st.sampled_from(["1", "2", "-1", "3.5"]),
    "price": st.sampled_from(["1.25", "10", "0.5"]),
    "sku": st.sampled_from(["A", "B", "POST"]),
}
bad = st.sampled_from(
    [
        "",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "1e400",
        "-1e308",
        "9" * 40,
        "abc",
        "1,5",
        "12.3.4",
        " 7 ",
        "null",
        "2024-01-05T10:00:00+02:00",
        "2024-01-05T10:00:00Z",
        "2024-13-45 25:61:61",
        "05/01/2024",
        "2024-01-05",
        "\u00e9t\u00e9",
        "\u0000",
        "C\u200b1",
        "ü",
    ]
)


@dataclass
class Export:
    """A generated file and what it must give."""

    data: bytes
    rows: int  # data lines written
    valid_header: bool  # every mapped column present (exactly once)


@st.composite
def exports(draw: st.DrawFn) -> Export:
    header = list(HEADER)
    shape = draw(st.sampled_from(["normal", "normal", "normal", "missing", "extra", "duplicated", "empty", "header"]))
    if shape == "missing":
        header.remove(draw(st.sampled_from(HEADER)))
    elif shape == "extra":
        header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(["note", "x", "Unnamed: 0"])))
    elif shape == "duplicated":
        header.append(draw(st.sampled_from(HEADER)))
    if shape == "empty":
        return Export(b"", 0, False)
    n = 0 if shape == "header" else draw(st.integers(1, 12))
    lines = [",".join(header)]
    for _ in range(n):
        fields = [
            draw(st.one_of(good.get(c, st.just("x")), bad) if draw(st.booleans()) else good.get(c, st.just("x")))
            for c in header
        ]
        lines.append(",".join(f.replace(",", ";").replace("\n", " ").replace("\r", " ") for f in fields))
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()) and n:
        data += b"\n" + bytes(draw(st.lists(st.integers(128, 255), min_size=1, max_size=4))) + b",x,x,x,x,x"
        n += 1
    valid_header = shape in ("normal", "extra", "header") and encoding != "utf-16"
    return Export(data, n, valid_header)


def check(spark: SparkSession, export: Export, where: Path) -> str:
    """Ingest one export; assert the contract; return what happened."""
    path = where / "export.csv"
    path.write_bytes(export.data)
    mapping_file = where / "fuzzed.yaml"
    mapping_file.write_text(yaml.safe_dump({**MAPPING, "source": {"path": str(path), "format": "csv"}}))
    root = check_warehouse(str(where / "wh"))
    before = {t: committed(spark, root=root, table=t, key="source") for t in ("orders", "rejects")}
    try:
        report = validate(
            spark, load_mapping(str(mapping_file)), root=root, run_id="fuzz", max_malformed_fraction=1.0, path=str(path)
        )
    except SegsparkError as err:
        message = str(err)
        assert "\n" not in message, message
        assert "export.csv" in message or "fuzzed" in message, message
        # Nothing half-written: the tables are as they were.
        assert {t: committed(spark, root=root, table=t, key="source") for t in before} == before
        return f"refused: {type(err).__name__}"
    assert export.valid_header or export.rows == 0 or export.data.startswith(b"\xef\xbb\xbf"), "a bad header passed"
    assert report.rows_read == export.rows, (report.rows_read, export.rows)
    assert report.valid + report.malformed + report.out_of_scope == report.rows_read
    orders = read_partitions(spark, root=root, table="orders", key="source").count()
    rejects = read_partitions(spark, root=root, table="rejects", key="source").count()
    assert (orders, rejects) == (report.valid, report.malformed + report.out_of_scope)
    return "ingested"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(export=exports())
def test_every_fuzzed_export_is_accounted_for_or_refused_clearly(spark: SparkSession, export: Export) -> None:
    with tempfile.TemporaryDirectory() as where:
        outcome = check(spark, export, Path(where))
    if os.environ.get("SEGSPARK_FUZZ_LOG"):
        with open(os.environ["SEGSPARK_FUZZ_LOG"], "a") as log:
            log.write(f"{outcome}\t{export.rows}\t{export.data[:60]!r}\n")
