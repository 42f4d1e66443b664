"""Exact lookalikes against a plain numpy brute force; seeds missing or absent; the audience mode."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.cli import main
from segspark.exc import SegsparkError
from segspark.generate import uniform
from segspark.lookalike.exact import audience, exact_lookalikes, load_seeds
from segspark.score.spark import PROFILE_SCHEMA
from segspark.tables import read_partitions, write_partition

N, DIM, K = 3000, 12, 10


def population(spark: SparkSession) -> DataFrame:
    """Generated fingerprints; every 7th customer copies customer id-1's vector, so exact ties occur."""
    base = spark.range(N).withColumn(
        "src", F.when(F.col("id") % 7 == 0, F.greatest(F.col("id") - 1, F.lit(0))).otherwise(F.col("id"))
    )
    dims = [F.floor(uniform(5, f"d{j}", F.col("src")) * 8).cast("double") for j in range(DIM)]
    return base.select(F.format_string("G%05d", "id").alias("customer_id"), F.array(*dims).alias("fingerprint"))


def brute_force(ids: list[str], vectors: np.ndarray, seed: str, k: int) -> list[tuple[str, float]]:
    """Cosine of the seed with every other customer, sorted by similarity then id."""
    s = vectors[ids.index(seed)]
    scored = []
    for cid, v in zip(ids, vectors, strict=True):
        if cid != seed:
            dot = sum(a * b for a, b in zip(s, v, strict=True))
            norm = math.sqrt(sum(a * a for a in s)) * math.sqrt(sum(b * b for b in v))
            scored.append((cid, dot / norm if norm else 0.0))
    scored.sort(key=lambda t: (-t[1], t[0]))
    return scored[:k]


def test_exact_equals_numpy_brute_force(spark: SparkSession) -> None:
    pop = population(spark).repartition(5)
    rows = pop.collect()
    ids = [r.customer_id for r in rows]
    vectors = np.array([r.fingerprint for r in rows], dtype=float)
    seed_ids = [ids[i] for i in range(0, N, 157)]  # 20 seeds, several with an identical twin
    got = exact_lookalikes(pop, load_seeds(pop, seed_ids), K).collect()
    by_seed: dict[str, list[tuple[int, str, float]]] = {}
    for r in got:
        by_seed.setdefault(r.seed_id, []).append((r.rank, r.customer_id, r.similarity))
    assert sorted(by_seed) == sorted(seed_ids)
    ties = 0
    for seed in seed_ids:
        expected = brute_force(ids, vectors, seed, K)
        mine = sorted(by_seed[seed])
        assert [c for _, c, _ in mine] == [c for c, _ in expected], seed
        assert [r for r, _, _ in mine] == list(range(1, K + 1))
        for (_, _, s1), (_, s2) in zip(mine, expected, strict=True):
            assert abs(s1 - s2) <= 1e-12
        ties += len({round(s, 12) for _, s in expected}) < K
    assert ties > 0  # the tie-break by id was exercised


def test_missing_and_empty_seeds(spark: SparkSession) -> None:
    pop = population(spark)
    seeds = load_seeds(pop, ["G00001", "nobody", "G00002", "G00001", " "])
    assert seeds.ids == ["G00001", "G00002"] and seeds.missing == ["nobody"]
    with pytest.raises(SegsparkError, match="seed list is empty"):
        load_seeds(pop, ["", "  "])
    with pytest.raises(SegsparkError, match="none of the 2 seed"):
        load_seeds(pop, ["x", "y"])


def test_audience_is_the_ranked_union_without_seeds(spark: SparkSession) -> None:
    pop = population(spark)
    seeds = load_seeds(pop, ["G00010", "G00011", "G00500"])
    per_seed = exact_lookalikes(pop, seeds, K)
    best: dict[str, float] = {}
    for r in per_seed.collect():
        if r.customer_id not in seeds.ids:
            best[r.customer_id] = max(best.get(r.customer_id, -1.0), r.similarity)
    expected = sorted(best.items(), key=lambda t: (-t[1], t[0]))[:12]
    got = audience(per_seed, seeds, 12).orderBy("rank").collect()
    assert [(r.customer_id, r.similarity) for r in got] == expected
    assert [r.rank for r in got] == list(range(1, 13))


def clustered(spark: SparkSession, n: int = 3000, dim: int = 12, groups: int = 6) -> DataFrame:
    """Gaussian clusters of positive 'distance-like' vectors, generated in Spark."""
    g = (F.col("id") % groups).cast("double")
    dims = []
    for j in range(dim):
        u1 = F.greatest(uniform(9, f"a{j}", F.col("id")), F.lit(1e-12))
        u2 = uniform(9, f"b{j}", F.col("id"))
        noise = F.sqrt(-2 * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)
        dims.append(F.abs(F.lit(1.0) + F.pmod(g * (j + 1), F.lit(5.0)) + F.lit(0.4) * noise))
    return spark.range(n).select(
        F.format_string("G%05d", "id").alias("customer_id"), F.array(*dims).alias("fingerprint")
    )


@pytest.mark.parametrize("levels", [0, 3], ids=["windows only", "split then windows"])
def test_approximate_recall_against_brute_force(spark: SparkSession, levels: int) -> None:
    from segspark.lookalike.approximate import LshSettings, approximate_neighbours

    pop = clustered(spark)
    rows = pop.collect()
    ids = np.array([r.customer_id for r in rows])
    unit = np.array([r.fingerprint for r in rows], dtype=float)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    truth = {ids[i]: set(ids[np.argsort(-sim[i], kind="stable")[:K]]) for i in range(len(ids))}
    # Small buckets (max_bucket 300) so big buckets are split (levels 3) or only cut into windows (levels 0).
    settings = LshSettings(tables=6, bits=4, max_bucket=300, levels=levels, seed=3)
    got: dict[str, set[str]] = {}
    for r in approximate_neighbours(pop, K, settings, dim=12).collect():
        got.setdefault(r.customer_id, set()).add(r.neighbour_id)
        assert r.customer_id != r.neighbour_id
    assert len(got) == len(ids) and all(len(v) == K for v in got.values())
    recall = float(np.mean([len(got[c] & truth[c]) / K for c in ids]))
    assert recall >= 0.9, recall


def test_hyperplanes_through_the_mean_split_positive_fingerprints_evenly() -> None:
    from segspark.lookalike.approximate import LshSettings, bucket_ids, hyperplanes

    # Fingerprints are distances: every coordinate positive, so the unit vectors crowd one orthant.
    rng = np.random.default_rng(4)
    unit = np.abs(rng.normal(3.0, 1.0, size=(4000, 12)))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    planes = hyperplanes(LshSettings(tables=1, bits=8, seed=1), 12)
    weights = 1 << np.arange(8)

    def bit_shares(centre: np.ndarray) -> np.ndarray:
        ids = bucket_ids(unit, planes, centre)[:, 0]
        return np.array([np.mean((ids & w) > 0) for w in weights])

    through_origin = bit_shares(np.zeros(12))
    through_mean = bit_shares(unit.mean(axis=0))
    # Through the origin most planes leave most customers on one side; through the mean each splits about half.
    assert np.mean(np.abs(through_origin - 0.5) > 0.3) >= 0.5, through_origin
    assert np.all(np.abs(through_mean - 0.5) < 0.1), through_mean


@pytest.mark.parametrize(("n", "size"), [(3, 4), (4, 4), (7, 4), (11, 5), (23, 6)])
def test_big_buckets_are_cut_into_bounded_windows_in_spark(spark: SparkSession, n: int, size: int) -> None:
    from segspark.lookalike.approximate import window_starts, windowed

    rng = np.random.default_rng(n)
    spare = rng.permutation(n).astype(float)
    rows = [(f"c{i:02d}", "|0|5", [1.0, 0.0], float(spare[i])) for i in range(n)]
    rows += [("z", "|0|9", [0.0, 1.0], 0.0)]  # another bucket, one customer
    hashed = spark.createDataFrame(rows, "customer_id string, block string, unit array<double>, spare double")
    got: dict[str, set[str]] = {}
    for r in windowed(hashed, size).collect():
        got.setdefault(r["block"], set()).add(r["customer_id"])
    by_position = [f"c{i:02d}" for i in np.argsort(spare, kind="stable")]
    expected = {f"|0|5#{s}": set(by_position[s : s + size]) for s in window_starts(n, size)}
    expected["|0|9#0"] = {"z"}
    assert got == expected
    assert max(len(members) for members in got.values()) <= size


def test_lookalikes_all_command(spark: SparkSession, warehouse: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`segspark lookalikes --all` on a committed profile snapshot: every customer gets k ranked neighbours,
    never itself, with their true cosine similarity, close to the brute force's, and the summary says so."""
    n, k, day = 240, 5, "2024-03-01"
    rows = clustered(spark, n=n, dim=8, groups=4).collect()
    ids = [r.customer_id for r in rows]
    vectors = np.array([r.fingerprint for r in rows], dtype=float)
    empty: dict[str, dict[str, float]] = {}
    profiles = [
        (cid, "m", "a", "a", False, empty, empty, {}, {}, {}, list(map(float, v)))
        for cid, v in zip(ids, vectors, strict=True)
    ]
    write_partition(
        spark.createDataFrame(profiles, PROFILE_SCHEMA),
        root=warehouse,
        table="customer_profiles",
        key="snapshot_date",
        value=day,
        run_id="r0",
    )

    assert main(["lookalikes", "--all", "--k", str(k), "--set", f"warehouse.root={warehouse}"]) == 0
    out = capsys.readouterr().out
    assert f"approximate neighbours on snapshot {day}: {n * k:,} rows (k={k})" in out
    (summary,) = Path(warehouse).glob("runs/*/summary.json")
    assert json.loads(summary.read_text())["steps"]["lookalikes"]["rows"] == n * k

    got = read_partitions(spark, root=warehouse, table="lookalikes", key="snapshot_date", values=[day]).collect()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit.T
    at = {cid: i for i, cid in enumerate(ids)}
    by_seed: dict[str, list[tuple[int, str, float]]] = {}
    for r in got:
        assert r.seed_id != r.customer_id
        assert r.similarity == pytest.approx(cosine[at[r.seed_id], at[r.customer_id]], abs=1e-12)
        by_seed.setdefault(r.seed_id, []).append((r.rank, r.customer_id, r.similarity))
    assert sorted(by_seed) == sorted(ids)
    recall = []
    for seed, found in by_seed.items():
        found.sort()
        assert [rank for rank, _, _ in found] == list(range(1, k + 1))
        assert all(a[2] >= b[2] for a, b in pairwise(found)), seed  # ranked by similarity
        row = cosine[at[seed]].copy()
        row[at[seed]] = -np.inf
        truth = {ids[i] for i in np.argsort(-row, kind="stable")[:k]}
        recall.append(len(truth & {c for _, c, _ in found}) / k)
    assert float(np.mean(recall)) >= 0.9


def test_lookalikes_needs_seeds_or_all(warehouse: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in ([], ["--all", "--seeds", "x.txt"]):
        assert main(["lookalikes", *args, "--set", f"warehouse.root={warehouse}"]) == 2
        assert "lookalikes needs either --seeds FILE" in capsys.readouterr().err


def test_a_big_bucket_is_split_about_its_own_mean() -> None:
    from segspark.lookalike.splitting import split_bits, split_ids, split_planes

    assert split_bits(np.array([1, 2000, 2001, 4000, 4001, 175_654]), 2000).tolist() == [0, 0, 1, 1, 2, 7]
    # A tight cluster far from the origin: planes through the origin leave it whole, planes through its
    # own mean cut it into 2**bits pieces of about equal size.
    rng = np.random.default_rng(5)
    unit = np.array([5.0, 5.0, 5.0, 5.0]) + 0.1 * rng.standard_normal((8000, 4))
    planes = split_planes(17, 0, 1, 4)
    bits = np.full(len(unit), 2)
    about_origin = split_ids(unit, np.zeros_like(unit), bits, planes)
    about_mean = split_ids(unit, np.broadcast_to(unit.mean(axis=0), unit.shape), bits, planes)
    assert np.bincount(about_origin, minlength=4).max() > 0.9 * len(unit)
    assert set(about_mean.tolist()) <= {0, 1, 2, 3}
    assert np.bincount(about_mean, minlength=4).max() < 0.4 * len(unit)
    # Only the first `bits` planes count; none for rows whose bucket fits.
    assert split_ids(unit, unit.mean(axis=0) + 0 * unit, np.zeros(len(unit), dtype=int), planes).max() == 0
    assert (split_planes(17, 0, 1, 4) == planes).all() and not (split_planes(17, 1, 1, 4) == planes).all()


def test_split_big_buckets_in_spark(spark: SparkSession) -> None:
    """A bucket over max_bucket is cut into pieces of about max_bucket, named under it; a bucket that fits
    keeps its name; every customer stays once per table; a second table splits its own way."""
    from segspark.lookalike.splitting import split_big_buckets

    rng = np.random.default_rng(8)
    big = np.array([0.6, 0.8]) + 0.05 * rng.standard_normal((400, 2))
    rows = [(f"c{i:03d}", f"|{t}|1", t, [float(x), float(y)], 0.0) for t in (0, 1) for i, (x, y) in enumerate(big)]
    rows += [(f"s{i}", "|0|2", 0, [1.0, 0.0], 0.0) for i in range(5)]
    schema = "customer_id string, block string, table int, unit array<double>, spare double"
    hashed = spark.createDataFrame(rows, schema)
    held: list[DataFrame] = []
    got = split_big_buckets(hashed, max_bucket=120, levels=3, seed=17, dim=2, held=held).collect()
    assert len(held) >= 1
    for frame in held:
        frame.unpersist()
    assert sorted((r.customer_id, r.table) for r in got) == sorted((r[0], r[2]) for r in rows)
    sizes: dict[str, int] = {}
    for r in got:
        sizes[r.block] = sizes.get(r.block, 0) + 1
    assert sizes.pop("|0|2") == 5
    assert all(b.startswith(("|0|1/", "|1|1/")) for b in sizes), sizes
    assert max(sizes.values()) <= 120 and len(sizes) >= 2 * 400 // 120, sizes
    pieces = {
        t: {r.customer_id: r.block.split("/", 1)[1] for r in got if r.table == t and r.block != "|0|2"} for t in (0, 1)
    }
    assert pieces[0] != pieces[1]
