"""The ingestion ledger's decisions and fingerprints (pure, no Spark)."""

from __future__ import annotations

from pathlib import Path

from segspark.ingest.ledger import InputFile, fingerprint, input_name, plan_append
from segspark.tables import Part

PARTS = (
    Part("r1", 100, {"input": "history.csv", "fingerprint": "aaa"}),
    Part("r2", 10, {"input": "week01.csv", "fingerprint": "bbb"}),
)


def test_same_content_under_any_name_is_a_duplicate() -> None:
    plan = plan_append(PARTS, InputFile("/in/copy_of_week01.csv", "copy_of_week01.csv", "bbb"))
    assert plan.duplicate_of == PARTS[1] and plan.keep == PARTS and plan.replaces == ()


def test_same_name_with_new_content_corrects_the_earlier_delivery() -> None:
    plan = plan_append(PARTS, InputFile("/in/week01.csv", "week01.csv", "ccc"))
    assert plan.duplicate_of is None
    assert plan.replaces == (PARTS[1],) and plan.keep == (PARTS[0],)


def test_a_new_delivery_keeps_everything() -> None:
    plan = plan_append(PARTS, InputFile("/in/week02.csv", "week02.csv", "ddd"))
    assert plan.duplicate_of is None and plan.replaces == () and plan.keep == PARTS


def test_fingerprint_follows_content_not_name_or_time(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n")
    b.write_text("x,y\n1,2\n")
    assert fingerprint(None, str(a)) == fingerprint(None, str(b))
    b.write_text("x,y\n1,3\n")
    assert fingerprint(None, str(a)) != fingerprint(None, str(b))
    # A directory hashes its files (not Spark's markers), so a rewritten _SUCCESS changes nothing.
    d = tmp_path / "part"
    d.mkdir()
    (d / "part-0.parquet").write_bytes(b"123")
    before = fingerprint(None, str(d))
    (d / "_SUCCESS").write_text("")
    assert fingerprint(None, str(d)) == before
    assert input_name(str(d) + "/") == "part"
