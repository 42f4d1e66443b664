"""Fitting on planted groups: k recovered, deterministic, identities stable across refits, save/load."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.config import load_config
from segspark.exc import SegsparkError
from segspark.model.assign import dominant_column
from segspark.model.fit import fit_model
from segspark.model.manifest import Manifest, load_manifest, save_manifest
from tests.conftest import REPO
from tests.planted import AXIS, COLUMNS, planted


def cfg(**overrides: Any) -> dict[str, Any]:
    base = dict(load_config().section("fit"))
    return {**base, "parallelism": 1, **overrides}


def fit(df: DataFrame, **kw: Any) -> Manifest:
    previous = kw.pop("previous", None)
    manifest, _ = fit_model(df.drop("group"), [AXIS], as_of="2024-01-01", source="t", cfg=cfg(**kw), previous=previous)
    return manifest


def dominant(df: DataFrame, m: Manifest) -> dict[str, str]:
    rows = df.select("customer_id", dominant_column(m.axes[AXIS.name]).alias("d")).collect()
    return {r.customer_id: r.d for r in rows}


def agreement(df: DataFrame, m: Manifest) -> float:
    """Share of customers whose segment's majority planted group is their own."""
    truth = {r.customer_id: r.group for r in df.select("customer_id", "group").collect()}
    seg = dominant(df, m)
    majority = {s: Counter(truth[c] for c in truth if seg[c] == s).most_common(1)[0][0] for s in set(seg.values())}
    return sum(majority[seg[c]] == truth[c] for c in truth) / len(truth)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_planted_k_is_recovered(spark: SparkSession, k: int) -> None:
    df = planted(spark, k)
    m = fit(df)
    ax = m.axes[AXIS.name]
    assert ax.k == k, ax.silhouette_by_k
    assert agreement(df, m) >= 0.95
    assert sorted(ax.tiers) == list(range(1, k + 1))
    assert sum(ax.sizes) == df.count()


@pytest.fixture(scope="module")
def three(spark: SparkSession) -> tuple[DataFrame, Manifest]:
    df = planted(spark, 3, per_group=80, seed=5)
    return df, fit(df)


def test_fit_twice_gives_identical_centres(spark: SparkSession, three: tuple[DataFrame, Manifest]) -> None:
    df, m1 = three
    m2 = fit(df)
    assert m2.axes[AXIS.name].centers_scaled == m1.axes[AXIS.name].centers_scaled
    assert m2.model_version == m1.model_version
    assert m2.archetypes == m1.archetypes


def test_partition_counts_agree(spark: SparkSession, three: tuple[DataFrame, Manifest]) -> None:
    df, _ = three
    results = [dominant(df, fit(df, partitions=p, rows_per_partition=1)) for p in (1, 2, 8)]
    for other in results[1:]:
        same = sum(results[0][c] == other[c] for c in results[0]) / len(results[0])
        assert same >= 0.99


def test_refit_with_another_seed_keeps_ids(spark: SparkSession, three: tuple[DataFrame, Manifest]) -> None:
    df, m1 = three
    m2 = fit(df, seed=7, previous=m1)
    before, after = dominant(df, m1), dominant(df, m2)
    assert sum(before[c] == after[c] for c in before) / len(before) >= 0.99
    assert m2.axes[AXIS.name].lineage["births"] == []
    a1, a2 = m1.axes[AXIS.name], m2.axes[AXIS.name]
    assert dict(zip(a2.segment_ids, a2.names, strict=True)) == dict(zip(a1.segment_ids, a1.names, strict=True))


def test_new_group_adds_exactly_one_segment(spark: SparkSession, three: tuple[DataFrame, Manifest]) -> None:
    df, m1 = three
    newcomers = planted(spark, 4, per_group=80, seed=9).filter(F.col("group") == 3)
    grown = df.unionByName(newcomers.withColumn("customer_id", F.concat(F.lit("N"), "customer_id")))
    m2 = fit(grown, previous=m1)
    old_ids, new_ids = set(m1.axes[AXIS.name].segment_ids), set(m2.axes[AXIS.name].segment_ids)
    assert old_ids < new_ids and len(new_ids - old_ids) == 1
    assert m2.axes[AXIS.name].lineage["births"] == sorted(new_ids - old_ids)
    # Customers of the old groups keep their segment id.
    before, after = dominant(df, m1), dominant(df, m2)
    assert sum(before[c] == after[c] for c in before) / len(before) >= 0.99


def test_archetypes_registry(three: tuple[DataFrame, Manifest]) -> None:
    _, m = three
    assert m.archetype_axes == [AXIS.name]
    assert sum(a["count"] for a in m.archetypes) == 240
    assert {a["key"] for a in m.archetypes} == set(m.axes[AXIS.name].segment_ids)
    assert m.archetype_count == 3


def test_archetype_registry_is_a_table_and_the_manifest_keeps_the_most_common(
    three: tuple[DataFrame, Manifest],
) -> None:
    from segspark.model.archetypes import archetype_registry, observed_archetypes
    from segspark.model.identity import archetype_id

    df, m = three
    registry = archetype_registry(df, m.axes, m.archetype_axes)
    rows = {r["archetype_key"]: r for r in registry.collect()}  # three rows
    # The Spark expression gives the same ids as the Python function the scoring pass uses.
    assert {k: r["archetype_id"] for k, r in rows.items()} == {k: archetype_id(k) for k in rows}
    counts = Counter(dominant(df, m).values())
    assert {k: r["customers"] for k, r in rows.items()} == dict(counts)
    top = observed_archetypes(registry, m.archetype_axes, top=2)
    assert [a["count"] for a in top] == sorted(counts.values(), reverse=True)[:2]
    assert top[0]["segments"] == {AXIS.name: top[0]["key"]}


def test_save_load_in_fresh_process_scores_identically(
    spark: SparkSession, three: tuple[DataFrame, Manifest], tmp_path: Path
) -> None:
    df, m = three
    root = str(tmp_path)
    path = save_manifest(root, m)
    rows = df.orderBy("customer_id").select("customer_id", *COLUMNS).collect()
    raw = [[r[c] for c in COLUMNS] for r in rows]
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        from segspark.model.assign import dominant
        from segspark.model.manifest import load_manifest
        m = load_manifest(sys.argv[1])
        raw = np.array(json.load(open(sys.argv[2])), dtype=float)
        print(json.dumps(dominant(m.axes["purchase_frequency"], raw)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, path, str(tmp_path / "raw.json")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    fresh = json.loads(done.stdout)
    in_spark = dominant(df, m)
    assert fresh == [in_spark[r.customer_id] for r in rows]
    assert load_manifest(root) == m


def test_scaler_matches_population_statistics(three: tuple[DataFrame, Manifest]) -> None:
    df, m = three
    ax = m.axes[AXIS.name]
    values = np.array(df.select(*COLUMNS).collect(), dtype=float)
    np.testing.assert_allclose(ax.scaler_mean, values.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(ax.scaler_scale, values.std(axis=0, ddof=1), rtol=1e-9)  # Spark: sample std
    # Centres in original units are the scaled centres mapped back (transform "none").
    np.testing.assert_allclose(
        ax.centers_original, np.asarray(ax.centers_scaled) * ax.scaler_scale + ax.scaler_mean, rtol=1e-9
    )


def test_missing_values_are_imputed_with_the_median(spark: SparkSession) -> None:
    df = planted(spark, 2, per_group=30, seed=3)
    holed = df.withColumn(COLUMNS[1], F.when(F.col("customer_id") == "K00000", None).otherwise(F.col(COLUMNS[1])))
    m = fit(holed)
    median = float(np.median(np.array(holed.select(COLUMNS[1]).dropna().collect(), dtype=float)))
    assert m.axes[AXIS.name].impute["avg_days_between_orders"] == pytest.approx(median)


def test_mllib_stages_are_saved_and_load_back(spark: SparkSession, tmp_path: Path) -> None:
    """The reloaded MLlib stages, applied with their own `transform`, assign every customer to the segment the
    real scoring pass (score_profiles over the manifest) makes dominant."""
    from pyspark.ml.clustering import KMeansModel
    from pyspark.ml.feature import StandardScalerModel, VectorAssembler

    from segspark.model.step import save_stages
    from segspark.model.transforms import spark_transform
    from segspark.score.core import ScoringModel
    from segspark.score.spark import score_profiles

    df = planted(spark, k=3, per_group=60, seed=5).drop("group")
    m, fits = fit_model(df, [AXIS], as_of="2024-01-01", source="t", cfg=cfg())
    ax = m.axes[AXIS.name]
    base = str(tmp_path / "model")
    save_stages({"first": fits[AXIS.name], "second": fits[AXIS.name]}, base)
    registry = spark.createDataFrame([], "archetype_key string")
    profiles = {r.customer_id: r for r in score_profiles(df, ScoringModel.from_manifest(m), registry).collect()}
    raw = df.select(
        "customer_id",
        *[
            spark_transform(F.col(c), ax.transforms[f], ax.impute[f]).alias(c)
            for f, c in zip(ax.features, ax.columns, strict=True)
        ],
    )
    vectors = VectorAssembler(inputCols=ax.columns, outputCol="raw").transform(raw)
    for name in ("first", "second"):
        scaler = StandardScalerModel.load(f"{base}/mllib/{name}/scaler")
        kmeans = KMeansModel.load(f"{base}/mllib/{name}/kmeans")
        # The manifest's segment of each MLlib cluster: the one whose centre is that cluster's centre.
        centres = np.asarray(ax.centers_scaled)
        segment_of = [ax.segment_ids[int(np.argmin(((centres - c) ** 2).sum(axis=1)))] for c in kmeans.clusterCenters()]
        assert sorted(segment_of) == sorted(ax.segment_ids)
        scaled = kmeans.transform(scaler.setOutputCol("features").transform(vectors)).collect()
        assert len(scaled) == len(profiles) == 180
        for row in scaled:
            profile = profiles[row.customer_id]
            # The cluster MLlib assigns is the scorer's dominant segment ...
            assert segment_of[row.prediction] == profile.dominant_segments[AXIS.name]
            # ... and the scorer's distances are those of MLlib's scaled vector to MLlib's centres.
            x = row.features.toArray()
            mllib = {segment_of[i]: float(np.sqrt(((x - c) ** 2).sum())) for i, c in enumerate(kmeans.clusterCenters())}
            np.testing.assert_allclose(
                [profile.segment_distances[AXIS.name][s] for s in ax.segment_ids],
                [mllib[s] for s in ax.segment_ids],
                rtol=1e-9,
                atol=1e-12,
            )


def test_a_k_that_isolates_a_few_outliers_is_not_chosen(spark: SparkSession) -> None:
    base = planted(spark, 3, per_group=80, seed=9)
    far = spark.createDataFrame(
        [(f"X{i}", 3, 200.0 + i, 200.0, 200.0) for i in range(3)], ["customer_id", "group", *COLUMNS]
    )
    df = base.unionByName(far)
    # Without a minimum, the silhouette rewards a segment of the three outliers.
    loose = fit(df, min_segment_share=0.0, min_segment_customers=1).axes[AXIS.name]
    assert min(loose.sizes) == 3
    # With the default minimum (1% of 243, at least 10 customers) no such k is chosen. These outliers are so far
    # out (untransformed) that every k isolates them: the axis cannot be fitted, and says why, per k.
    with pytest.raises(SegsparkError, match=r"no k in 2\.\.6 gives usable segments") as err:
        fit(df)
    assert str(err.value).count("smallest segment 3 customers, below the minimum 10") == 5


def test_min_segment_size_is_the_larger_of_share_and_floor() -> None:
    from segspark.model.kmeans import KSearch

    search = KSearch(2, 6, 1, 10, 1e-4, 1000, min_share=0.01, min_customers=10)
    assert search.min_size(500, 500) == 10
    assert search.min_size(5_853, 5_853) == 59
    # On a sample, both bounds scale with it: 1% of the sample, and the floor's share of the sample.
    assert search.min_size(1_000, 2_000_000) == 10
    assert search.min_size(100, 2_000) == 1


def test_the_k_search_runs_on_a_hash_sample_and_the_final_fit_on_everyone(spark: SparkSession) -> None:
    df = planted(spark, k=3, per_group=100, seed=3)  # 300 customers
    ax = fit(df, k_search_sample_size=120).axes[AXIS.name]
    # About 120 customers chosen by a hash of their id (binomial spread), everyone in the final model.
    assert 80 <= ax.k_search_rows <= 160
    assert sum(ax.sizes) == 300
    # The same customers whatever the partitioning: the same search.
    again = fit(df.repartition(5), k_search_sample_size=120).axes[AXIS.name]
    assert (again.k_search_rows, again.silhouette_by_k, again.k) == (ax.k_search_rows, ax.silhouette_by_k, ax.k)
