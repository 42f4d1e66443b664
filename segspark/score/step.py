"""The score step: features of one date + a model -> customer_profiles/snapshot_date=<as_of>/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.exc import MissingInputError
from segspark.features.metrics import business_metrics
from segspark.mapping import SourceMapping
from segspark.model.manifest import Manifest
from segspark.model.step import read_registry
from segspark.score.core import ScoringModel
from segspark.score.spark import PROFILE_COLUMNS, score_profiles
from segspark.tables import Commit, committed, read_partitions, write_partition

PROFILES = "customer_profiles"


@dataclass(frozen=True)
class ScoreResult:
    """What the step wrote."""

    as_of: date
    model_version: str
    commit: Commit


def read_features(spark: SparkSession, root: str, as_of: date) -> DataFrame:
    """The committed features snapshot of `as_of`."""
    df = read_partitions(spark, root=root, table="features", key="snapshot_date", values=[as_of.isoformat()])
    return df.drop("snapshot_date")


def profiles(
    features: DataFrame, orders_table: DataFrame, manifest: Manifest, *, as_of: date, registry: DataFrame
) -> DataFrame:
    """Score every customer of `features` and attach lifetime_value and total_orders; `registry` holds the
    archetype keys observed at fit time (`read_registry`)."""
    manifest.check_columns(features.columns)
    scored = score_profiles(features, ScoringModel.from_manifest(manifest), registry)
    metrics = business_metrics(orders_table, as_of=as_of)
    return scored.join(metrics, "customer_id", how="left").select(
        *PROFILE_COLUMNS,
        F.coalesce(F.col("lifetime_value"), F.lit(0.0)).alias("lifetime_value"),
        F.coalesce(F.col("total_orders"), F.lit(0).cast("long")).alias("total_orders"),
    )


def run_score(
    spark: SparkSession, *, root: str, mapping: SourceMapping, as_of: date, manifest: Manifest, run_id: str
) -> ScoreResult:
    """Score the committed features of `as_of` with `manifest` and commit the profiles partition."""
    orders = read_partitions(spark, root=root, table="orders", key="source", values=[mapping.name]).drop("source")
    df = profiles(
        read_features(spark, root, as_of), orders, manifest, as_of=as_of, registry=read_registry(spark, root, manifest)
    )
    commit = write_partition(df, root=root, table=PROFILES, key="snapshot_date", value=as_of.isoformat(), run_id=run_id)
    return ScoreResult(as_of=as_of, model_version=manifest.model_version, commit=commit)


def snapshot_of(spark: SparkSession, root: str, as_of: date | None) -> str:
    """The requested snapshot date, or the newest committed one."""
    days = sorted(committed(spark, root=root, table=PROFILES, key="snapshot_date"))
    if not days:
        raise MissingInputError(f"no customer profiles under {root}; run `segspark score` first")
    day = as_of.isoformat() if as_of else days[-1]
    if day not in days:
        raise MissingInputError(f"no profile snapshot {day}; committed snapshots: {', '.join(days)}")
    return day
