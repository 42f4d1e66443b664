"""The features step: committed orders -> features/snapshot_date=<as_of>/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import SparkSession

from segspark.features.axes import load_axes
from segspark.features.engine import FeaturePlan, cached_features, default_as_of
from segspark.mapping import SourceMapping
from segspark.tables import committed, read_partitions, write_partition


@dataclass(frozen=True)
class FeatureResult:
    """What the step wrote."""

    as_of: date
    plan: FeaturePlan
    customers: int


def run_features(
    spark: SparkSession, *, root: str, mapping: SourceMapping, as_of: date | None, axes_file: str | None, run_id: str
) -> FeatureResult:
    """Compute every applicable axis's features as of a date (default: the day after the last line) and commit them."""
    orders = read_partitions(spark, root=root, table="orders", key="source", values=[mapping.name]).drop("source")
    day = as_of or default_as_of(orders)
    tickets = None
    if mapping.tickets is not None and mapping.name in committed(spark, root=root, table="tickets", key="source"):
        tickets = read_partitions(spark, root=root, table="tickets", key="source", values=[mapping.name]).drop("source")
    with cached_features(
        orders, load_axes(axes_file), as_of=day, zone=mapping.zone, date_only=mapping.date_only, tickets_table=tickets
    ) as (features, plan):
        # The plan's reasons travel with the snapshot, so a later `segspark fit` on it can say why.
        commit = write_partition(
            features,
            root=root,
            table="features",
            key="snapshot_date",
            value=day.isoformat(),
            run_id=run_id,
            info={"skipped_axes": plan.skipped, "dropped_features": plan.dropped},
        )
    return FeatureResult(as_of=day, plan=plan, customers=commit.row_count)
