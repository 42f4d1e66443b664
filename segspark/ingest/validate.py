"""The validate step: read a source through its mapping, quarantine, write orders and rejects."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.exc import ConfigError, DataQualityError
from segspark.ingest.canonical import (
    KIND,
    MALFORMED,
    REASON,
    VALID,
    as_string,
    canonicalise,
    count_kept_duplicates,
    rejected_rows,
    source_expr,
    valid_lines,
)
from segspark.ingest.ledger import InputFile, describe_input, plan_append
from segspark.ingest.read import nanos_as_long, read_lookup, read_source
from segspark.mapping import SourceMapping
from segspark.paths import remove_staging, staging_path
from segspark.tables import committed, write_partition

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """Exact accounting of one ingestion: valid + malformed + out_of_scope = rows_read."""

    source: str
    rows_read: int = 0
    valid: int = 0
    malformed: int = 0
    out_of_scope: int = 0
    customers: int = 0
    return_lines: int = 0
    duplicate_lines_kept: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    out_of_scope_by_reason: dict[str, int] = field(default_factory=dict)
    # The ledger: which input this was, and what ingesting it did to the source's orders.
    input: str = ""
    fingerprint: str = ""
    mode: str = "full"  # full (replace every line of the source) or append
    already_ingested_by: str | None = None  # run id of the earlier delivery of the same content
    replaced: list[str] = field(default_factory=list)  # names of the corrected earlier deliveries
    source_lines: int = 0  # valid lines of the source after this input
    table: str = "orders"  # orders, or tickets (whose rows have no returns or duplicate policy)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data for the run summary."""
        return dict(self.__dict__)

    def ledger_info(self) -> dict[str, Any]:
        """What the orders part of this input records in the ledger."""
        keys = ("input", "fingerprint", "rows_read", "valid", "malformed", "out_of_scope")
        return {k: getattr(self, k) for k in keys} | {
            "malformed_by_reason": self.malformed_by_reason,
            "out_of_scope_by_reason": self.out_of_scope_by_reason,
        }

    def lines(self) -> list[str]:
        """Human-readable lines for the console."""
        if self.already_ingested_by:
            return [
                f"source {self.source}: {self.input} was already ingested (same content, run "
                f"{self.already_ingested_by}); counted once, nothing written"
            ]
        what = f" ({self.mode} ingest of {self.input})" if self.mode == "append" else ""
        if self.table == "tickets":
            out = [
                f"source {self.source}: {self.rows_read:,} tickets read from {self.input}",
                f"  valid tickets     {self.valid:,} ({self.customers:,} customers)",
            ]
        else:
            out = [
                f"source {self.source}: {self.rows_read:,} lines read{what}",
                f"  valid lines       {self.valid:,} ({self.customers:,} customers, {self.return_lines:,} return "
                f"lines, {self.duplicate_lines_kept:,} exact duplicates kept)",
            ]
        out.append(f"  rejected (malformed) {self.malformed:,}")
        out += [f"    {r:<24} {n:,}" for r, n in sorted(self.malformed_by_reason.items())]
        out.append(f"  out of scope      {self.out_of_scope:,}")
        out += [f"    {r:<24} {n:,}" for r, n in sorted(self.out_of_scope_by_reason.items())]
        if self.replaced:
            out.append(f"  corrects earlier delivery {', '.join(self.replaced)} (its lines were replaced)")
        if self.mode == "append":
            out.append(f"  source now holds  {self.source_lines:,} valid lines")
        return out


def _join_lookups(spark: SparkSession, raw: DataFrame, mapping: SourceMapping) -> DataFrame:
    for i, lookup in enumerate(mapping.lookups):
        key_expr = source_expr(mapping, lookup.key)
        if key_expr is None:
            raise ConfigError(f"lookup key {lookup.key} is not a mapped canonical column")
        dtype = raw.select(key_expr.alias("k")).schema[0].dataType
        table = read_lookup(spark, lookup)
        renamed = table.select(
            F.col("_lk_key").alias(f"_lk{i}_key"),
            *[F.col(c).alias(f"_lk{i}_{c}") for c in lookup.columns],
        )
        raw = raw.join(renamed, on=as_string(key_expr, dtype) == F.col(f"_lk{i}_key"), how="left").drop(f"_lk{i}_key")
    return raw


def classify(
    spark: SparkSession,
    mapping: SourceMapping,
    *,
    path: str | None = None,
    max_order_ts: datetime | None = None,
    repartition: int = 0,
) -> DataFrame:
    """Read the source and return every row classified (see `canonicalise`)."""
    raw = read_source(spark, mapping, path)
    if repartition > 0:
        raw = raw.repartition(repartition)
    raw = _join_lookups(spark, raw, mapping)
    # Ingestion is not feature code: "the future" is relative to now unless configured.
    limit = max_order_ts or datetime.now(UTC).replace(tzinfo=None)
    return canonicalise(raw, mapping, max_order_ts=limit, epoch_unit="ns" if nanos_as_long(spark) else None)


def account(classified: DataFrame, source: str, duplicates: str = "keep") -> IngestReport:
    """Count rows per kind and reason, and the valid lines' customers and returns."""
    report = IngestReport(source=source)
    # Per-reason counts: a handful of rows, safe to bring to the driver.
    for row in classified.groupBy(KIND, REASON).count().collect():
        n = int(row["count"])
        report.rows_read += n
        if row[KIND] == VALID:
            report.valid += n
        elif row[KIND] == MALFORMED:
            report.malformed += n
            report.malformed_by_reason[row[REASON]] = n
        else:
            report.out_of_scope += n
            report.out_of_scope_by_reason[row[REASON]] = n
    stats = (
        classified.filter(F.col(KIND) == VALID)
        .agg(
            F.countDistinct("customer_id").alias("customers"),
            F.count_if(F.col("is_return")).alias("returns"),
        )
        .first()
    )
    if stats is not None:
        report.customers = int(stats["customers"] or 0)
        report.return_lines = int(stats["returns"] or 0)
    if duplicates == "keep":
        report.duplicate_lines_kept = count_kept_duplicates(classified)
    return report


def check_malformed(report: IngestReport, max_fraction: float, path: str, rows: str = "rows") -> None:
    """Fail, before anything is written, when malformed rows exceed `max_fraction` of the rows read."""
    fraction = report.malformed / max(report.rows_read, 1)
    if fraction > max_fraction:
        worst = sorted(report.malformed_by_reason.items(), key=lambda kv: -kv[1])[:3]
        raise DataQualityError(
            f"{path}: {report.malformed:,} of {report.rows_read:,} {rows} ({fraction:.2%}) are malformed, "
            f"above ingest.max_malformed_fraction={max_fraction:.2%} (top reasons: {worst}); "
            "no table was written. Fix the source or its mapping, or raise the threshold."
        )


def validate(
    spark: SparkSession,
    mapping: SourceMapping,
    *,
    root: str,
    run_id: str,
    max_malformed_fraction: float,
    path: str | None = None,
    max_order_ts: datetime | None = None,
    repartition: int = 0,
    append: bool = False,
    item: InputFile | None = None,
) -> IngestReport:
    """Ingest a source: fail (writing nothing) above the malformed threshold, else write both tables.

    Full mode replaces every line of the source. Append mode adds one input to
    them through the ledger (`segspark.ingest.ledger`): content already ingested
    is counted once and writes nothing; a corrected delivery (same name, new
    content) replaces its predecessor's lines and rejects. Earlier inputs are
    not read again either way.

    The input is parsed once into a hidden staging copy partitioned by kind;
    accounting reads only narrow columns of it, and the orders and rejects
    tables are published from it (rejects first: the orders marker is the
    ledger's commit). Staging is removed whatever happens.
    """
    source_path = path or mapping.path
    item = item or describe_input(spark, source_path)  # a caller that already fingerprinted it passes it
    orders_now = committed(spark, root=root, table="orders", key="source").get(mapping.name)
    plan = plan_append(orders_now.parts if (append and orders_now) else (), item)
    if plan.duplicate_of is not None:
        done = IngestReport(source=mapping.name, input=item.name, fingerprint=item.fingerprint, mode="append")
        done.already_ingested_by = plan.duplicate_of.run_id
        done.source_lines = orders_now.row_count if orders_now else 0
        return done
    classified = classify(spark, mapping, path=path, max_order_ts=max_order_ts, repartition=repartition)
    staging = staging_path(root, run_id)
    try:
        classified.write.mode("overwrite").partitionBy(KIND).parquet(staging)
        # The schema is given: a source without data lines writes no file to infer one from.
        staged = spark.read.schema(classified.schema).parquet(staging)
        report = account(staged, mapping.name, mapping.duplicates)
        report.input, report.fingerprint, report.mode = item.name, item.fingerprint, "append" if append else "full"
        report.replaced = [str(p.info.get("input")) for p in plan.replaces]
        for line in report.lines():
            log.info(line)
        if report.rows_read == 0 and not append:
            raise DataQualityError(f"source {mapping.name}: {item.path} has no data rows; nothing written")
        check_malformed(report, max_malformed_fraction, item.path)
        kept_ids = {p.run_id for p in plan.keep}
        rejects_now = committed(spark, root=root, table="rejects", key="source").get(mapping.name)
        keep_rejects = tuple(p for p in rejects_now.parts if p.run_id in kept_ids) if rejects_now else ()
        write_partition(
            rejected_rows(staged, run_id),
            root=root,
            table="rejects",
            key="source",
            value=mapping.name,
            run_id=run_id,
            keep=keep_rejects,
            info={"input": item.name, "fingerprint": item.fingerprint},
        )
        orders = write_partition(
            valid_lines(staged),
            root=root,
            table="orders",
            key="source",
            value=mapping.name,
            run_id=run_id,
            keep=plan.keep,
            info=report.ledger_info(),
        )
        report.source_lines = orders.row_count
        return report
    finally:
        remove_staging(root, run_id)
