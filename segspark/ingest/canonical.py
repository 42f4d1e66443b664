"""Source rows -> canonical order lines, each row classified valid / malformed / out of scope.

Nothing is dropped here: every row read comes out once, with `_kind` and
`_reason` saying what happens to it, `_row` holding the source row as JSON for
the rejects table (null on valid rows, which never need it), and `_row_hash` a
64-bit hash of the source row for counting exact duplicates.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.exc import MappingError
from segspark.ingest.read import CORRUPT
from segspark.mapping import SourceMapping
from segspark.schema import CANONICAL_TYPES, ORDER_LINES

VALID, MALFORMED, OUT_OF_SCOPE = "valid", "malformed", "out_of_scope"
ROW, KIND, REASON, ROW_HASH = "_row", "_kind", "_reason", "_row_hash"


def quoted(name: str) -> Column:
    """A source column by name, whatever characters the name holds."""
    return F.col(f"`{name}`")


def source_expr(mapping: SourceMapping, canonical: str) -> Column | None:
    spec = mapping.columns.get(canonical)
    if spec is None:
        lookup_cols = [lk for lk in mapping.lookups if canonical in lk.columns]
        return F.col(f"_lk{mapping.lookups.index(lookup_cols[0])}_{canonical}") if lookup_cols else None
    return quoted(spec.column) if spec.column else F.expr(spec.expr or "")


def _blank_to_null(col: Column) -> Column:
    trimmed = F.trim(col)
    return F.when(trimmed == "", F.lit(None)).otherwise(trimmed)


def as_string(col: Column, dtype: T.DataType) -> Column:
    if isinstance(dtype, (T.FloatType, T.DoubleType, T.DecimalType)):
        # Keys stored as floats (Online Retail II's customer id 12345.0) read as "12345".
        return F.when(col == F.floor(col), col.cast("bigint").cast("string")).otherwise(col.cast("string"))
    return _blank_to_null(col.cast("string"))


def as_double(col: Column, dtype: T.DataType) -> Column:
    """A source column as a double: blank, NaN and infinite values become null (unparseable)."""
    parsed = _blank_to_null(col).try_cast("double") if isinstance(dtype, T.StringType) else col.cast("double")
    # NaN and infinities are not amounts: treat them as unparseable.
    return F.when(F.isnan(parsed) | (F.abs(parsed) == float("inf")), F.lit(None)).otherwise(parsed)


EPOCH_DIVISORS = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def timestamp_column(
    col: Column, dtype: T.DataType, fmt: str | None, zone: str, epoch_unit: str | None, name: str = "order_ts"
) -> Column:
    """A source column as a UTC instant: text by `fmt` (or ISO), epoch numbers, dates, wall-clock times in `zone`."""
    if isinstance(dtype, T.TimestampType):
        # Already an instant: the zone does not apply.
        return col
    if isinstance(dtype, (T.IntegerType, T.LongType, T.DoubleType, T.DecimalType)):
        if epoch_unit is None:
            raise MappingError(f"{name} is numeric: set timestamp.epoch_unit (s, ms, us or ns) in the mapping")
        # Integer arithmetic down to microseconds keeps nanosecond inputs exact.
        micros = col.cast("decimal(38,6)") * F.lit(10**6) / F.lit(EPOCH_DIVISORS[epoch_unit])
        wall = F.timestamp_micros(micros.cast("long"))
    elif isinstance(dtype, T.StringType):
        text = _blank_to_null(col)
        wall = F.try_to_timestamp(text, F.lit(fmt)) if fmt else text.try_cast("timestamp")
    else:
        # TIMESTAMP_NTZ / DATE: a wall-clock reading; the session zone is UTC, so the cast keeps it.
        wall = col.cast("timestamp")
    return F.to_utc_timestamp(wall, zone) if zone != "UTC" else wall


def canonicalise(
    raw: DataFrame, mapping: SourceMapping, *, max_order_ts: datetime, epoch_unit: str | None = None
) -> DataFrame:
    """Return canonical columns plus `_kind`, `_reason`, `_row` and `_row_hash` for every source row."""
    source_cols = [c for c in raw.columns if not c.startswith("_lk")]
    raw_vals: dict[str, Column] = {}
    parsed: dict[str, Column] = {}
    for canonical, target in CANONICAL_TYPES.items():
        expr = source_expr(mapping, canonical)
        if expr is None:
            continue
        dtype = raw.select(expr.alias("x")).schema[0].dataType  # analysis only, no job
        raw_vals[canonical] = expr
        if isinstance(target, T.StringType):
            parsed[canonical] = as_string(expr, dtype)
        elif isinstance(target, T.DoubleType):
            parsed[canonical] = as_double(expr, dtype)
        else:
            parsed[canonical] = timestamp_column(
                expr, dtype, mapping.timestamp_format, mapping.zone, mapping.epoch_unit or epoch_unit
            )
    df = raw.select("*", *[c.alias(f"_p_{k}") for k, c in parsed.items()])
    p = {k: F.col(f"_p_{k}") for k in parsed}
    null = F.lit(None)

    is_return = F.lit(False)
    if mapping.returns_negative_quantity:
        is_return = is_return | (p["quantity"] < 0)
    if mapping.returns_order_id_prefix:
        is_return = is_return | p["order_id"].startswith(mapping.returns_order_id_prefix)
    if mapping.returns_flag_column:
        flag = quoted(mapping.returns_flag_column).cast("string")
        is_return = is_return | flag.isin(list(mapping.returns_flag_values))
    is_return = F.coalesce(is_return, F.lit(False))

    quantity = F.when(is_return, -F.abs(p["quantity"])).otherwise(p["quantity"])
    if "line_amount" in p:
        amount = F.when(is_return, -F.abs(p["line_amount"])).otherwise(p["line_amount"])
    else:
        amount = quantity * p["unit_price"]
    if "unit_price" in p:
        unit_price = p["unit_price"]
    else:
        unit_price = F.when(p["quantity"] == 0, F.lit(0.0)).otherwise(
            F.try_divide(F.abs(p["line_amount"]), F.abs(p["quantity"]))
        )
    discount = F.coalesce(p["discount_amount"], F.lit(0.0)) if "discount_amount" in p else null

    def bad(name: str) -> Column:
        # The source had a value, but it did not parse.
        return raw_vals[name].isNotNull() & p[name].isNull()

    checks: list[tuple[Column, str, str]] = []
    if CORRUPT in raw.columns:
        checks.append((F.col(CORRUPT).isNotNull(), MALFORMED, "malformed_record"))
    checks += [
        (p["order_id"].isNull(), MALFORMED, "missing_order_id"),
        (raw_vals["order_ts"].isNull(), MALFORMED, "missing_order_ts"),
        (bad("order_ts"), MALFORMED, "unparseable_timestamp"),
        (raw_vals["quantity"].isNull(), MALFORMED, "missing_quantity"),
        (bad("quantity"), MALFORMED, "unparseable_quantity"),
    ]
    for name in ("unit_price", "line_amount"):
        if name in p:
            checks += [
                (raw_vals[name].isNull(), MALFORMED, f"missing_{name}"),
                (bad(name), MALFORMED, f"unparseable_{name}"),
            ]
    if "discount_amount" in p:
        checks += [
            (bad("discount_amount"), MALFORMED, "unparseable_discount"),
            (p["discount_amount"] < 0, MALFORMED, "negative_discount"),
        ]
    checks += [
        (unit_price < 0, MALFORMED, "negative_price"),
        (p["order_ts"] > F.to_timestamp(F.lit(max_order_ts.isoformat(sep=" "))), MALFORMED, "future_timestamp"),
        (p["customer_id"].isNull(), OUT_OF_SCOPE, "missing_customer_id"),
    ]
    if "product_id" in p:
        for code, values in mapping.exclude_products.items():
            checks.append((p["product_id"].isin(list(values)), OUT_OF_SCOPE, code))
        for code, patterns in mapping.exclude_product_patterns.items():
            for pattern in patterns:
                checks.append((p["product_id"].rlike(pattern), OUT_OF_SCOPE, code))
    checks.append((quantity == 0, OUT_OF_SCOPE, "zero_quantity"))

    kind, reason = first_match(checks)

    out = df.select(
        p["customer_id"].alias("customer_id"),
        p["order_id"].alias("order_id"),
        p["order_ts"].alias("order_ts"),
        quantity.alias("quantity"),
        unit_price.alias("unit_price"),
        amount.alias("line_amount"),
        discount.cast("double").alias("discount_amount"),
        *[p.get(c, null).cast("string").alias(c) for c in ("product_id", "category", "channel")],
        is_return.alias("is_return"),
        kind.alias(KIND),
        reason.alias(REASON),
        F.to_json(F.struct(*[quoted(c) for c in source_cols]), {"ignoreNullFields": "false"}).alias(ROW),
        F.xxhash64(*[_hashable(quoted(f.name), f.dataType) for f in raw.schema.fields if f.name in source_cols]).alias(
            ROW_HASH
        ),
    )
    marked = _mark_duplicates(out, mapping.duplicates)
    # Only rejected rows keep their JSON: writing it for every valid line cost ingestion a fifth of its
    # time, and Spark evaluates the JSON of a CASE branch only for the rows that take it.
    return marked.withColumn(ROW, F.when(F.col(KIND) == VALID, F.lit(None)).otherwise(F.col(ROW)))


def first_match(checks: list[tuple[Column, str, str]]) -> tuple[Column, Column]:
    """The (kind, reason) columns of a row: those of the first check it matches, else valid with no reason."""
    kind: Column = F.lit(VALID)
    reason: Column = F.lit(None).cast("string")
    for cond, k, r in reversed(checks):
        hit = F.coalesce(cond, F.lit(False))
        kind = F.when(hit, F.lit(k)).otherwise(kind)
        reason = F.when(hit, F.lit(r)).otherwise(reason)
    return kind, reason


def _hashable(col: Column, dtype: T.DataType) -> Column:
    # Spark cannot hash maps; their JSON text identifies them as well.
    return F.to_json(F.struct(col)) if "map<" in dtype.simpleString() else col


def _mark_duplicates(df: DataFrame, policy: str) -> DataFrame:
    """Under the drop policy, move exact duplicates (identical source rows) to out of scope.

    Ranking needs every row shuffled, which is the dearest step of ingestion,
    so it runs only when lines are dropped; under `keep` the duplicates are
    only counted (see `count_kept_duplicates`).
    """
    if policy != "drop":
        return df
    # The 64-bit hash leads the window keys so the sort compares longs and reads
    # the row text only on hash ties; the text keeps the match exact.
    row_hash = F.col(ROW_HASH)
    rank = F.row_number().over(Window.partitionBy(row_hash, F.col(ROW)).orderBy(row_hash))
    is_extra = (F.col(KIND) == VALID) & (rank > 1)
    return df.withColumn("_extra", is_extra).select(
        *[c for c in df.columns if c not in (KIND, REASON)],
        F.when(F.col("_extra"), F.lit(OUT_OF_SCOPE)).otherwise(F.col(KIND)).alias(KIND),
        F.when(F.col("_extra"), F.lit("duplicate_line")).otherwise(F.col(REASON)).alias(REASON),
    )


def count_kept_duplicates(classified: DataFrame) -> int:
    """Valid lines that repeat an earlier identical source row (by 64-bit row hash).

    An aggregate of hashes shuffles a few bytes per distinct row instead of the
    rows themselves; a hash collision (odds about n^2 / 2^64) could only make
    this informational count off by one, never move a row.
    """
    per_hash = classified.filter(F.col(KIND) == VALID).groupBy(F.col(ROW_HASH).alias("h")).count()
    extra = per_hash.agg(F.sum(F.col("count") - 1).alias("n")).first()
    return int(extra["n"] or 0) if extra is not None else 0


def valid_lines(classified: DataFrame) -> DataFrame:
    """The canonical order lines of the valid rows, in the canonical schema."""
    return classified.filter(F.col(KIND) == VALID).select(*[F.col(f.name).cast(f.dataType) for f in ORDER_LINES.fields])


def rejected_rows(classified: DataFrame, run_id: str) -> DataFrame:
    """The rejects table rows: run id, kind, reason and the source row as JSON."""
    return classified.filter(F.col(KIND) != VALID).select(
        F.lit(run_id).alias("run_id"),
        F.col(KIND).alias("kind"),
        F.col(REASON).alias("reason"),
        F.col(ROW).alias("source_row"),
    )
