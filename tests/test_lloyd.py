"""The k search's numpy replay of MLlib's KMeans: the JVM's generators, the silhouette, and MLlib itself."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

from segspark.model import lloyd
from segspark.model.jrandom import JavaRandom, XorShiftRandom
from segspark.model.kmeans import KSearch, _search_numpy
from tests.planted import COLUMNS, planted

SEED, MAX_ITER, TOL = 42, 50, 1e-4


# ------------------------------------------------------------------------------------------ numpy only
def test_silhouette_is_the_pairwise_squared_euclidean_silhouette() -> None:
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 1, (9, 2)), rng.normal(4, 1, (7, 2)), [[9.0, 9.0]]])
    labels = np.array([0] * 9 + [1] * 7 + [2])
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    expected = []
    for i, own in enumerate(labels):
        mates = (labels == own) & (np.arange(len(x)) != i)
        if not mates.any():
            expected.append(0.0)  # alone in its cluster
            continue
        a = d[i, mates].mean()
        b = min(d[i, labels == c].mean() for c in set(labels) - {own})
        expected.append((b - a) / max(a, b))
    assert lloyd.silhouette(x, labels) == pytest.approx(np.mean(expected), abs=1e-12)


def test_kmeans_ends_at_the_means_of_its_clusters() -> None:
    rng = np.random.default_rng(7)
    x = np.vstack([rng.normal(c, 0.3, (40, 3)) for c in (0.0, 3.0, 6.0)])
    centres = lloyd.kmeans(x, [0, 50, len(x)], 3, SEED, MAX_ITER, 1e-12)
    labels, _ = lloyd.closest(x, lloyd.norms(x), centres, lloyd.norms(centres))
    assert sorted(np.bincount(labels).tolist()) == [40, 40, 40]
    for j in range(3):
        np.testing.assert_allclose(centres[j], x[labels == j].mean(axis=0), atol=1e-12)


def test_search_rejects_nothing_itself_and_marks_unused_clusters() -> None:
    # Three distinct points repeated: k = 4..6 cannot use all their clusters, so they get no silhouette.
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 5.0], [7.0, 2.0]]), 20, axis=0)
    found = lloyd.search(x, [0, len(x)], range(2, 7), SEED, MAX_ITER, TOL)
    assert found[3].silhouette == pytest.approx(1.0)
    assert sorted(found[3].sizes) == [20, 20, 20]
    for k in (4, 5, 6):
        assert found[k].silhouette is None
        assert sum(found[k].sizes) == 60 and min(found[k].sizes) == 0


# ------------------------------------------------------------------------------------- against the JVM
classic_only = pytest.mark.skipif(is_remote(), reason="reads the JVM's own generators through py4j")


@classic_only
@pytest.mark.parametrize("seed", [42, -7, 0, 123456789012, -(1 << 62)])
def test_generators_draw_what_the_jvm_draws(spark: SparkSession, seed: int) -> None:
    jvm = spark._jvm  # type: ignore[attr-defined]
    for theirs, ours in (
        (jvm.org.apache.spark.util.random.XORShiftRandom(seed), XorShiftRandom(seed)),
        (jvm.java.util.Random(seed), JavaRandom(seed)),
    ):
        want = [theirs.nextInt(), theirs.nextDouble(), theirs.nextInt(5853), theirs.nextInt(64), theirs.nextLong()]
        want += [theirs.nextInt(2_000_000_011) for _ in range(20)]
        got = [ours.next_int(), ours.next_double(), ours.next_int(5853), ours.next_int(64), ours.next_long()]
        got += [ours.next_int(2_000_000_011) for _ in range(20)]
        assert got == want


def _points(df: DataFrame, partitions: int) -> DataFrame:
    """Scaled-like vectors in a fixed partitioning and order, cached: what the fit hands KMeans."""
    return (
        VectorAssembler(inputCols=COLUMNS, outputCol="features")
        .transform(df.repartition(partitions, "customer_id").sortWithinPartitions("customer_id"))
        .select("customer_id", "features")
        .cache()
    )


def _numpy_view(points: DataFrame) -> tuple[np.ndarray, list[int]]:
    arr = vector_to_array(F.col("features"))
    rows = (
        points.select(
            F.spark_partition_id().alias("p"),
            F.monotonically_increasing_id().alias("pos"),
            *[arr[i].alias(f"x{i}") for i in range(len(COLUMNS))],
        )
        .orderBy("p", "pos")
        .collect()
    )
    x = np.array([[r[f"x{i}"] for i in range(len(COLUMNS))] for r in rows])
    sizes = np.bincount([r["p"] for r in rows])  # empty partitions before the last one count too
    return x, [0, *np.cumsum(sizes).tolist()]


@pytest.mark.parametrize(
    ("groups", "per_group", "noise", "partitions"),
    [(3, 70, 0.6, 1), (4, 70, 3.0, 3), (2, 70, 6.0, 2), (3, 4, 1.0, 8)],
    ids=["separated-1-partition", "overlapping-3-partitions", "one-blob-2-partitions", "12-rows-8-partitions"],
)
def test_numpy_kmeans_finds_mllibs_centres(
    spark: SparkSession, groups: int, per_group: int, noise: float, partitions: int
) -> None:
    points = _points(planted(spark, groups, per_group=per_group, seed=11, noise=noise), partitions)
    try:
        x, bounds = _numpy_view(points)
        if per_group * groups < partitions * 2:  # the sparse case must hold an empty partition inside
            assert 0 in np.diff(bounds)[:-1], bounds
        # Through the fit's own task (it finds partitions and positions itself), not bounds made here.
        search = KSearch(2, 6, SEED, MAX_ITER, TOL, sample_size=len(x))
        found = _search_numpy(points, len(COLUMNS), len(x), search, min_size=1)[1]
        evaluator = ClusteringEvaluator(featuresCol="features", distanceMeasure="squaredEuclidean")
        for k in range(2, 7):
            model = KMeans(k=k, seed=SEED, maxIter=MAX_ITER, tol=TOL, solver="row").fit(points.select("features"))
            theirs = np.array(model.clusterCenters())
            assert found[k].centres.shape == theirs.shape, k
            np.testing.assert_allclose(found[k].centres, theirs, rtol=0, atol=1e-9, err_msg=f"k={k}")
            assert found[k].sizes == [int(s) for s in model.summary.clusterSizes], k
            mllib_silhouette = evaluator.evaluate(model.transform(points))
            assert found[k].silhouette == pytest.approx(mllib_silhouette, abs=1e-9), k
    finally:
        points.unpersist()


def test_fit_model_is_the_same_with_either_k_search(spark: SparkSession) -> None:
    from segspark.config import load_config
    from segspark.model.fit import fit_model
    from tests.planted import AXIS

    df = planted(spark, 4, per_group=60, seed=5, noise=2.5).drop("group").cache()
    base = {**load_config().section("fit"), "parallelism": 1, "rows_per_partition": 100, "min_segment_customers": 5}
    try:
        got = {
            engine: fit_model(df, [AXIS], as_of="2024-01-01", source="t", cfg={**base, "k_search_engine": engine})[
                0
            ].axes[AXIS.name]
            for engine in ("numpy", "mllib")
        }
    finally:
        df.unpersist()
    numpy_fit, mllib_fit = got["numpy"], got["mllib"]
    assert len(numpy_fit.silhouette_by_k) >= 3  # several k compared, not one
    assert numpy_fit.silhouette_by_k == mllib_fit.silhouette_by_k
    assert numpy_fit.k_rejected == mllib_fit.k_rejected
    assert numpy_fit.k == mllib_fit.k and numpy_fit.sizes == mllib_fit.sizes
    assert numpy_fit.centers_scaled == mllib_fit.centers_scaled
