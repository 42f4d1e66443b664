"""Support tickets through a mapping: exact quarantine accounting, the threshold, and nothing half-written."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from segspark.exc import DataQualityError
from segspark.ingest.tickets import rejects_partition, validate_tickets
from segspark.mapping import parse_mapping
from segspark.tables import committed, read_partitions

CSV = """id,customer,opened,closed,via,csat,escalated
T1,K1,2024-03-01 10:00,2024-03-01 12:30,chat,5,no
T2,K1,2024-03-02 10:00,2024-03-02 11:00,chat,great,no
T3,K2,2024-03-03 10:00,2024-03-03 11:00,phone,7,no
T4,K2,2024-03-04 10:00,2024-03-04 09:00,phone,3,yes
T5,,2024-03-05 10:00,2024-03-05 11:00,email,4,no
T6,K3,not a date,2024-03-06 11:00,email,4,no
T7,K3,2024-03-07 10:00,2024-03-07 11:00,email,2,maybe
T8,K4,2024-03-08 10:00,,web,,
"""


def mapping(path: Path):  # type: ignore[no-untyped-def]
    return parse_mapping(
        {
            "name": "helpdesk",
            "source": {"path": "unused.csv", "format": "csv"},
            "columns": {"customer_id": "c", "order_id": "o", "order_ts": "t", "quantity": "q", "unit_price": "p"},
            "timestamp": {"zone": "Europe/Berlin"},
            "tickets": {
                "source": {"path": str(path), "format": "csv"},
                "columns": {
                    "ticket_id": "id",
                    "customer_id": "customer",
                    "created_ts": "opened",
                    "resolved_ts": "closed",
                    "channel": "via",
                    "satisfaction": "csat",
                    "escalated": "escalated",
                },
                "timestamp": {"format": "yyyy-MM-dd HH:mm"},
            },
        },
        "helpdesk.yaml",
    )


def test_every_ticket_row_is_accounted_for(spark: SparkSession, warehouse: str, tmp_path: Path) -> None:
    src = tmp_path / "tickets.csv"
    src.write_text(CSV)
    report = validate_tickets(
        spark, mapping(src), root=warehouse, run_id="r1", max_malformed_fraction=1.0, max_ts=datetime(2030, 1, 1)
    )
    assert report is not None
    assert (report.rows_read, report.valid, report.malformed, report.out_of_scope) == (8, 2, 5, 1)
    assert report.malformed_by_reason == {
        "unparseable_satisfaction": 1,
        "satisfaction_out_of_range": 1,
        "resolved_before_created": 1,
        "unparseable_timestamp": 1,
        "unparseable_escalated": 1,
    }
    assert report.out_of_scope_by_reason == {"missing_customer_id": 1}
    tickets = {
        r["ticket_id"]: r
        for r in read_partitions(spark, root=warehouse, table="tickets", key="source", values=["helpdesk"]).collect()
    }
    assert set(tickets) == {"T1", "T8"}
    assert tickets["T1"]["resolution_hours"] == pytest.approx(2.5)
    # Berlin wall-clock 10:00 in March is 09:00 UTC.
    assert tickets["T1"]["created_ts"] == datetime(2024, 3, 1, 9, 0)
    assert tickets["T1"]["satisfaction"] == 5.0 and tickets["T1"]["escalated"] is False
    assert tickets["T8"]["satisfaction"] is None and tickets["T8"]["escalated"] is None
    assert tickets["T8"]["resolution_hours"] is None
    rejects = read_partitions(
        spark, root=warehouse, table="rejects", key="source", values=[rejects_partition("helpdesk")]
    ).collect()
    assert sorted(r["reason"] for r in rejects) == sorted([*report.malformed_by_reason, "missing_customer_id"])
    assert all(r["source_row"] for r in rejects)


def test_too_many_malformed_tickets_write_nothing(spark: SparkSession, warehouse: str, tmp_path: Path) -> None:
    src = tmp_path / "tickets.csv"
    src.write_text(CSV)
    with pytest.raises(DataQualityError, match="5 of 8 ticket rows"):
        validate_tickets(
            spark, mapping(src), root=warehouse, run_id="r1", max_malformed_fraction=0.01, max_ts=datetime(2030, 1, 1)
        )
    assert not committed(spark, root=warehouse, table="tickets", key="source")
    assert not committed(spark, root=warehouse, table="rejects", key="source")
