"""Support tickets (SPEC section 2): a source's ticket export -> the `tickets` table, with its own quarantine.

Tickets are read through the `tickets:` section of the source's mapping file,
classified the way order lines are (every row valid, malformed or out of
scope, with a reason) and written in full: the tickets partition of a source
is its latest export, the rejects go to the rejects table under
`source=<source>__tickets`, so their accounting never mixes with the orders'.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.ingest.canonical import (
    KIND,
    MALFORMED,
    OUT_OF_SCOPE,
    REASON,
    ROW,
    VALID,
    as_double,
    as_string,
    first_match,
    quoted,
    timestamp_column,
)
from segspark.ingest.read import CORRUPT, read_source
from segspark.ingest.validate import IngestReport, account, check_malformed
from segspark.mapping import SourceMapping, TicketsMapping
from segspark.paths import remove_staging, staging_path
from segspark.schema import TICKET_TYPES, TICKETS
from segspark.tables import write_partition

log = logging.getLogger(__name__)


def rejects_partition(source: str) -> str:
    """The rejects partition of a source's tickets."""
    return f"{source}__tickets"


def classify_tickets(raw: DataFrame, mapping: TicketsMapping, *, max_ts: datetime) -> DataFrame:
    """Canonical ticket columns plus `_kind`, `_reason` and `_row` for every source row."""
    source_cols = list(raw.columns)
    raw_vals: dict[str, Column] = {}
    parsed: dict[str, Column] = {}
    for canonical in TICKET_TYPES:
        spec = mapping.columns.get(canonical)
        if spec is None:
            continue
        expr = quoted(spec.column) if spec.column else F.expr(spec.expr or "")
        dtype = raw.select(expr.alias("x")).schema[0].dataType  # analysis only, no job
        raw_vals[canonical] = expr
        target = TICKET_TYPES[canonical].simpleString()
        if target == "timestamp":
            parsed[canonical] = timestamp_column(
                expr, dtype, mapping.timestamp_format, mapping.zone, mapping.epoch_unit, canonical
            )
        elif target == "double":
            parsed[canonical] = as_double(expr, dtype)
        elif target == "boolean":
            text = F.lower(F.trim(expr.cast("string")))
            known = ["true", "false", "0", "1", "yes", "no", "y", "n", "t", "f", *mapping.escalated_values]
            parsed[canonical] = F.when(text.isin(list(mapping.escalated_values)), F.lit(True)).when(
                text.isin(known), F.lit(False)
            )
        else:
            parsed[canonical] = as_string(expr, dtype)
    df = raw.select("*", *[c.alias(f"_p_{k}") for k, c in parsed.items()])
    p = {k: F.col(f"_p_{k}") for k in parsed}

    def bad(name: str) -> Column:
        return raw_vals[name].isNotNull() & p[name].isNull() if name in p else F.lit(False)

    checks: list[tuple[Column, str, str]] = []
    if CORRUPT in raw.columns:
        checks.append((F.col(CORRUPT).isNotNull(), MALFORMED, "malformed_record"))
    checks += [
        (raw_vals["created_ts"].isNull(), MALFORMED, "missing_created_ts"),
        (bad("created_ts"), MALFORMED, "unparseable_timestamp"),
        (p["created_ts"] > F.to_timestamp(F.lit(max_ts.isoformat(sep=" "))), MALFORMED, "future_timestamp"),
        (bad("resolved_ts"), MALFORMED, "unparseable_resolved_ts"),
        (bad("resolution_hours"), MALFORMED, "unparseable_resolution_hours"),
        (bad("satisfaction"), MALFORMED, "unparseable_satisfaction"),
        (bad("escalated"), MALFORMED, "unparseable_escalated"),
    ]
    if "satisfaction" in p:
        checks.append((~p["satisfaction"].between(1, 5), MALFORMED, "satisfaction_out_of_range"))
    if "resolved_ts" in p:
        checks.append((p["resolved_ts"] < p["created_ts"], MALFORMED, "resolved_before_created"))
    if "resolution_hours" in p:
        checks.append((p["resolution_hours"] < 0, MALFORMED, "negative_resolution_hours"))
    if "ticket_id" in p:
        checks.append((p["ticket_id"].isNull(), MALFORMED, "missing_ticket_id"))
    checks.append((p["customer_id"].isNull(), OUT_OF_SCOPE, "missing_customer_id"))
    kind, reason = first_match(checks)

    hours = p.get("resolution_hours")
    if hours is None and "resolved_ts" in p:
        hours = (F.unix_micros(p["resolved_ts"]) - F.unix_micros(p["created_ts"])) / F.lit(3.6e9)
    # Without a ticket id, a ticket is named by a hash of its source row: stable across re-ingestion.
    ticket_id = p.get("ticket_id", F.sha2(F.to_json(F.struct(*[quoted(c) for c in source_cols])), 256).substr(1, 16))
    null = F.lit(None)
    return df.select(
        ticket_id.alias("ticket_id"),
        p["customer_id"].alias("customer_id"),
        p["created_ts"].alias("created_ts"),
        (hours if hours is not None else null).cast("double").alias("resolution_hours"),
        *[p.get(c, null).cast(TICKET_TYPES[c]).alias(c) for c in ("channel", "category", "satisfaction", "escalated")],
        p.get("order_id", null).cast("string").alias("order_id"),
        kind.alias(KIND),
        reason.alias(REASON),
        F.when(kind == VALID, null)
        .otherwise(F.to_json(F.struct(*[quoted(c) for c in source_cols]), {"ignoreNullFields": "false"}))
        .alias(ROW),
        F.lit(0).cast("long").alias("_row_hash"),
        F.lit(False).alias("is_return"),
    )


def validate_tickets(
    spark: SparkSession,
    mapping: SourceMapping,
    *,
    root: str,
    run_id: str,
    max_malformed_fraction: float,
    max_ts: datetime | None = None,
) -> IngestReport | None:
    """Ingest the source's tickets export, when its mapping has one; None otherwise.

    Fails, writing nothing, when malformed rows exceed the threshold, exactly
    as the orders do; else writes the rejects, then the tickets.
    """
    tickets = mapping.tickets
    if tickets is None:
        return None
    # Ingestion, not feature code: "the future" is relative to now unless configured (as for the orders).
    limit = max_ts or datetime.now(UTC).replace(tzinfo=None)
    classified = classify_tickets(read_source(spark, tickets), tickets, max_ts=limit)
    staging = staging_path(root, f"{run_id}-tickets")
    try:
        classified.write.mode("overwrite").partitionBy(KIND).parquet(staging)
        # The schema is given: a source without data lines writes no file to infer one from.
        staged = spark.read.schema(classified.schema).parquet(staging)
        report = account(staged, mapping.name, duplicates="drop")
        report.input, report.table = tickets.path, "tickets"
        for line in report.lines():
            log.info(line)
        check_malformed(report, max_malformed_fraction, tickets.path, rows="ticket rows")
        rejected = staged.filter(F.col(KIND) != VALID).select(
            F.lit(run_id).alias("run_id"),
            F.col(KIND).alias("kind"),
            F.col(REASON).alias("reason"),
            F.col(ROW).alias("source_row"),
        )
        write_partition(
            rejected,
            root=root,
            table="rejects",
            key="source",
            value=rejects_partition(mapping.name),
            run_id=run_id,
            info={"input": tickets.path},
        )
        valid = staged.filter(F.col(KIND) == VALID).select(*[F.col(f.name).cast(f.dataType) for f in TICKETS.fields])
        commit = write_partition(
            valid,
            root=root,
            table="tickets",
            key="source",
            value=mapping.name,
            run_id=run_id,
            info={"input": tickets.path},
        )
        report.source_lines = commit.row_count
        return report
    finally:
        remove_staging(root, f"{run_id}-tickets")
