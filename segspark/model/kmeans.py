"""Per-axis fitting with Spark MLlib: scaler, KMeans for each k, silhouette, best k.

The k search runs on `model.lloyd` by default: MLlib's algorithm replayed in numpy, every k of an axis in one
Spark task, instead of one Spark job per Lloyd iteration (~1,400 jobs on Online Retail II). MLlib then fits the
chosen k, which stays the model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from pyspark import StorageLevel
from pyspark.ml.clustering import KMeans, KMeansModel
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import StandardScaler, StandardScalerModel, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.exc import SegsparkError
from segspark.model import lloyd

log = logging.getLogger(__name__)

SAMPLE_BUCKETS = 1_000_000


@dataclass(frozen=True)
class KSearch:
    """Settings of the k search."""

    k_min: int
    k_max: int
    seed: int
    max_iter: int
    tol: float
    sample_size: int
    # The smallest share of the axis's customers a segment may hold, and its floor in customers: a k
    # whose clustering leaves a smaller segment is not chosen (silhouette rewards isolating outliers).
    min_share: float = 0.0
    min_customers: int = 1
    # "numpy": every k is fitted in one task by model.lloyd, MLlib's algorithm draw for draw, and only the
    # chosen k by MLlib; "mllib": every k by MLlib, one Spark job per iteration (the reference for tests).
    engine: str = "numpy"

    def min_size(self, rows: int, total: int) -> int:
        """The smallest segment allowed among `rows` clustered customers out of `total`."""
        floor = self.min_customers * rows / max(total, 1)
        return max(1, math.ceil(max(self.min_share * rows, floor) - 1e-9))


@dataclass
class AxisFit:
    """What MLlib produced for one axis."""

    scaler: StandardScalerModel
    kmeans: KMeansModel
    silhouette_by_k: dict[int, float]
    k: int
    search_rows: int
    sizes: list[int]
    # k -> why it was not chosen (a segment below the minimum size, or fewer distinct clusters than k).
    rejected: dict[int, str] = field(default_factory=dict)


class AxisUnfittable(SegsparkError):
    """No k gives this axis segments a marketer can use; the axis is skipped with this reason."""


def deterministic_sample(df: DataFrame, rows: int, total: int) -> DataFrame:
    """About `rows` rows chosen by a hash of customer_id: the same customers whatever the partitioning."""
    if total <= rows:
        return df
    keep = int(SAMPLE_BUCKETS * rows / total)
    bucket = F.pmod(F.xxhash64("customer_id"), F.lit(SAMPLE_BUCKETS))
    return df.filter(bucket < keep)


def fit_axis(prepared: DataFrame, columns: list[str], total: int, search: KSearch) -> AxisFit:
    """Scale the (imputed, transformed) columns and choose k by silhouette; ties go to the smaller k.

    `prepared` holds customer_id and the transformed feature columns, already
    in a deterministic order. The search input is cached: every k's fit and
    silhouette reads it, and recomputing its sort costs more than MLlib's own
    copy saves.
    """
    # Cached once: the scaler, the sample and the final fit on everyone all read it, and computing it
    # means a shuffle and a sort of every customer.
    assembled = (
        VectorAssembler(inputCols=columns, outputCol="raw")
        .transform(prepared)
        .select("customer_id", "raw")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        scaler = StandardScaler(inputCol="raw", outputCol="features", withMean=True, withStd=True).fit(assembled)
        scaled = scaler.transform(assembled).select("customer_id", "features")
        sampled = total > search.sample_size
        sample = deterministic_sample(scaled, search.sample_size, total).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            search_rows = sample.count() if sampled else total  # unsampled, it is every customer: no job
            axis = columns[0].split("__")[0]
            min_size = search.min_size(search_rows, total)
            if search.engine == "mllib":
                scores, models, rejected = _search(sample, search_rows, search, min_size, axis)
            else:
                scores, found, rejected = _search_numpy(sample, len(columns), search_rows, search, min_size, axis)
            best = max(scores, key=lambda k: (round(scores[k], 9), -k))
            if search.engine == "mllib" and not sampled:
                chosen = models[best]
            else:
                chosen = _kmeans(best, search).fit((scaled if sampled else sample).select("features"))
        finally:
            sample.unpersist()
        sizes = [int(s) for s in chosen.summary.clusterSizes]
        if search.engine != "mllib" and not sampled and sizes != found[best].sizes:
            # Not expected: model.lloyd replays MLlib exactly; a difference means a Spark release changed
            # KMeans. The model stays MLlib's; the search may have ranked k differently.
            log.warning(
                "axis %s: the k search's k=%d sizes %s differ from MLlib's %s", axis, best, found[best].sizes, sizes
            )
    finally:
        assembled.unpersist()
    return AxisFit(scaler, chosen, scores, best, search_rows, sizes, rejected)


def _kmeans(k: int, search: KSearch) -> KMeans:
    # solver "auto" runs a Summarizer job on every fit to choose between "row" and "block", and chose
    # "row" here; naming it saves that job (45 of ~1,400 jobs on Online Retail II) with the same centres
    # and silhouettes.
    return KMeans(k=k, seed=search.seed, maxIter=search.max_iter, tol=search.tol, featuresCol="features", solver="row")


def _search(
    sample: DataFrame, rows: int, search: KSearch, min_size: int, axis: str = ""
) -> tuple[dict[int, float], dict[int, KMeansModel], dict[int, str]]:
    """Fit every k on the sample and score the ones whose every segment holds at least `min_size` rows."""
    evaluator = ClusteringEvaluator(
        featuresCol="features", predictionCol="prediction", distanceMeasure="squaredEuclidean"
    )
    scores: dict[int, float] = {}
    models: dict[int, KMeansModel] = {}
    rejected: dict[int, str] = {}
    # KMeans caches its own vectors when its input is not cached; a projection of the cached sample
    # is not, so every iteration reads MLlib's vectors rather than decoding the cached rows again.
    vectors = sample.select("features")
    for k in range(search.k_min, search.k_max + 1):
        if k * min_size > rows:
            rejected[k] = _too_few(k, min_size, rows)
            break
        model = _kmeans(k, search).fit(vectors)
        why = _unusable(k, [int(s) for s in model.summary.clusterSizes], min_size)
        if why:
            rejected[k] = why
            log.info("axis %s, k=%d: %s; not chosen", axis, k, why)
            continue
        scores[k] = float(evaluator.evaluate(model.transform(sample)))
        models[k] = model
    _none_usable(scores, rejected, search)
    return scores, models, rejected


def _too_few(k: int, min_size: int, rows: int) -> str:
    return f"{k} segments of at least {min_size} customers need {k * min_size}; {rows} clustered"


def _unusable(k: int, sizes: list[int], min_size: int) -> str | None:
    """Why a clustering of k segments with these sizes is not chosen, or None when it may be."""
    produced = len([s for s in sizes if s > 0])
    if produced < k:
        # KMeans found fewer distinct groups than asked: this k adds nothing over a smaller one.
        return f"only {produced} distinct cluster(s)"
    if min(sizes) < min_size:
        # Silhouette rewards isolating a handful of outliers; a segment that small is not actionable.
        return f"smallest segment {min(sizes)} customers, below the minimum {min_size}"
    return None


def _none_usable(scores: dict[int, float], rejected: dict[int, str], search: KSearch) -> None:
    if not scores:
        tried = "; ".join(f"k={k}: {why}" for k, why in sorted(rejected.items()))
        raise AxisUnfittable(f"no k in {search.k_min}..{search.k_max} gives usable segments ({tried})")


_FOUND = T.StructType(
    [
        T.StructField("k", T.IntegerType()),
        T.StructField("centres", T.ArrayType(T.ArrayType(T.DoubleType()))),
        T.StructField("sizes", T.ArrayType(T.LongType())),
        T.StructField("silhouette", T.DoubleType()),
    ]
)


def _search_numpy(
    sample: DataFrame, dim: int, rows: int, search: KSearch, min_size: int, axis: str = ""
) -> tuple[dict[int, float], dict[int, lloyd.Clustering], dict[int, str]]:
    """`_search` in one task: model.lloyd fits every k on the sample's points, in MLlib's partition order.

    The sample is bounded by k_search_sample_size rows, so one task holds it (200,000 x dim doubles at most).
    """
    ks = range(search.k_min, min(search.k_max, rows // max(min_size, 1)) + 1)

    def fit_all(pdf):  # type: ignore[no-untyped-def]
        import pandas as pd

        pdf = pdf.sort_values(["part", "pos"], kind="stable")
        x = pdf[[f"x{i}" for i in range(dim)]].to_numpy(dtype=float)
        # Rows per partition id, empty partitions included: MLlib seeds its draws by partition index.
        sizes = np.bincount(pdf["part"].to_numpy(dtype=np.int64)) if len(pdf) else np.zeros(1, dtype=np.int64)
        bounds = [0, *np.cumsum(sizes).tolist()]
        found = lloyd.search(x, bounds, ks, search.seed, search.max_iter, search.tol)
        return pd.DataFrame(
            [
                {"k": k, "centres": c.centres.tolist(), "sizes": c.sizes, "silhouette": c.silhouette}
                for k, c in found.items()
            ]
        )

    arrays = vector_to_array(F.col("features"))
    points = sample.select(
        F.spark_partition_id().alias("part"),
        F.monotonically_increasing_id().alias("pos"),
        *[arrays[i].alias(f"x{i}") for i in range(dim)],
    )
    # One row per k (at most k_max - k_min + 1), never customer-sized.
    got = points.groupBy(F.lit(0).alias("one")).applyInPandas(fit_all, _FOUND).collect()
    found = {
        int(r["k"]): lloyd.Clustering(np.asarray(r["centres"]), [int(s) for s in r["sizes"]], r["silhouette"])
        for r in got
    }
    scores: dict[int, float] = {}
    rejected: dict[int, str] = {}
    for k in range(search.k_min, search.k_max + 1):
        if k not in found:  # k x min_size > rows: not fitted
            rejected[k] = _too_few(k, min_size, rows)
            break
        why = _unusable(k, found[k].sizes, min_size)
        silhouette = found[k].silhouette
        if why is None and silhouette is not None:  # every cluster used, so the silhouette exists
            scores[k] = float(silhouette)
            continue
        rejected[k] = why or "no silhouette"
        log.info("axis %s, k=%d: %s; not chosen", axis, k, rejected[k])
    _none_usable(scores, rejected, search)
    return scores, found, rejected
