"""One customer's Level 3 document, read from the committed customer_profiles history."""

from __future__ import annotations

from datetime import date
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.exc import MissingInputError
from segspark.model.manifest import load_manifest, model_dir
from segspark.score.core import ScoringModel, level3_document
from segspark.score.step import PROFILES, snapshot_of
from segspark.tables import read_partitions


def customer_document(spark: SparkSession, root: str, customer_id: str, as_of: date | None = None) -> dict[str, Any]:
    """The Level 3 document of `customer_id` on snapshot `as_of` (default: the newest committed one)."""
    day = snapshot_of(spark, root, as_of)
    profiles = read_partitions(spark, root=root, table=PROFILES, key="snapshot_date", values=[day])
    row = profiles.filter(F.col("customer_id") == F.lit(customer_id)).limit(1).first()
    if row is None:
        raise MissingInputError(f"customer {customer_id!r} has no profile on snapshot {day}")
    record = row.asDict(recursive=True)
    model = ScoringModel.from_manifest(load_manifest(model_dir(root, record["model_version"])))
    return level3_document(model, record)
