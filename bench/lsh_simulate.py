"""Recall@10 of the lookalike LSH for given settings, simulated in numpy in a minute instead of a Spark run.

The population has the distribution of `bench/lookalikes.py`'s (9 axes x 4 centres,
12 planted groups; numpy draws, not the same rows). The hashing, the splits of big
buckets and the windows are the library's own numpy functions, applied the way
`approximate_neighbours` applies them in Spark; the candidates of a sampled
customer are everyone sharing a final bucket or window with it in any table, and
recall is the share of its exact 10 nearest among them (the Spark pass then ranks
candidates exactly, so this is the recall the real run gets). "work" is the sum of
squared group sizes: the similarity arithmetic of the grouped pass.

    .venv/bin/python bench/lsh_simulate.py --customers 1000000 TABLES,BITS,MAX_BUCKET,LEVELS ...

e.g. `12,10,2000,0` (windows only: the settings before session 16) or `24,10,2000,3` (the default).
It agreed with the Spark runs it was checked against: 0.951 against 0.95 at 200,000 customers and
0.746 against 0.743 at 1,000,000 for 12,10,2000,0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from segspark.lookalike.approximate import LshSettings, bucket_ids, hyperplanes, window_starts
from segspark.lookalike.core import unit_rows
from segspark.lookalike.splitting import split_bits, split_ids, split_planes

AXES, CENTRES, FEATURES, GROUPS, K, SAMPLE = 9, 4, 3, 12, 10, 1000


def population(n: int) -> np.ndarray:
    """n x 36 fingerprints: per axis, the distances of a noisy point near its group's centre to 4 centres."""
    centres = np.random.default_rng(7).uniform(-3, 3, size=(AXES, CENTRES, FEATURES))
    noise = np.random.default_rng(8)
    group = np.arange(n) % GROUPS
    out = np.empty((n, AXES * CENTRES))
    for a in range(AXES):
        point = centres[a, (group * (a + 1)) % CENTRES, :] + 0.7 * noise.standard_normal((n, FEATURES))
        for m in range(CENTRES):
            out[:, a * CENTRES + m] = np.linalg.norm(point - centres[a, m], axis=1)
    return out


def final_buckets(unit: np.ndarray, first: np.ndarray, table: int, s: LshSettings) -> np.ndarray:
    """One table's bucket of every row after up to `levels` splits of the buckets over max_bucket."""
    _, label = np.unique(first, return_inverse=True)
    for level in range(1, s.levels + 1):
        sizes = np.bincount(label)
        bits = split_bits(sizes, s.max_bucket)
        rows = np.flatnonzero(bits[label] > 0)
        if not rows.size:
            break
        sums = np.zeros((sizes.size, unit.shape[1]))
        np.add.at(sums, label[rows], unit[rows])
        centre = sums / np.maximum(sizes, 1)[:, None]
        planes = split_planes(s.seed, table, level, unit.shape[1])
        key = label.astype(np.int64) << 21
        key[rows] += 1 + split_ids(unit[rows], centre[label[rows]], bits[label[rows]], planes)
        _, label = np.unique(key, return_inverse=True)
    return label


def simulate(unit: np.ndarray, s: LshSettings) -> tuple[float, int, float]:
    """(recall@10 on SAMPLE customers, largest final bucket, work in 1e9 multiply-adds / dim)."""
    n = len(unit)
    planes = hyperplanes(s, unit.shape[1])
    first = bucket_ids(unit, planes, unit.mean(axis=0))
    seeds = np.random.default_rng(3).choice(n, SAMPLE, replace=False)
    truth = []
    for c in range(0, SAMPLE, 50):  # chunks: 50 x n similarities at a time
        sim = unit[seeds[c : c + 50]] @ unit.T
        sim[np.arange(sim.shape[0]), seeds[c : c + 50]] = -np.inf
        truth.append(np.argpartition(-sim, K, axis=1)[:, :K])
    found = [set[int]() for _ in range(SAMPLE)]
    largest, work = 0, 0.0
    for t in range(s.tables):
        label = final_buckets(unit, first[:, t], t, s)
        order = np.lexsort((np.arange(n), unit @ planes[t, -1], label))
        bounds = np.flatnonzero(np.diff(label[order])) + 1
        starts, ends = np.r_[0, bounds], np.r_[bounds, n]
        sizes = ends - starts
        largest = max(largest, int(sizes.max()))
        work += sum(len(window_starts(int(z), s.max_bucket)) * min(int(z), s.max_bucket) ** 2 for z in sizes)
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        which = np.searchsorted(starts, position[seeds], side="right") - 1
        for i, seed in enumerate(seeds):
            start, size = starts[which[i]], sizes[which[i]]
            p = position[seed] - start
            for w in window_starts(int(size), s.max_bucket):
                if w <= p < w + s.max_bucket:
                    found[i].update(order[start + w : start + min(size, w + s.max_bucket)].tolist())
    truth_rows = np.vstack(truth)
    hits = sum(len(set(truth_rows[i].tolist()) & found[i]) for i in range(SAMPLE))
    return hits / (SAMPLE * K), largest, work / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("settings", nargs="+", help="TABLES,BITS,MAX_BUCKET,LEVELS")
    args = parser.parse_args()
    unit = unit_rows(population(args.customers))
    for spec in args.settings:
        tables, bits, max_bucket, levels = map(int, spec.split(","))
        s = LshSettings(tables=tables, bits=bits, max_bucket=max_bucket, levels=levels)
        started = time.perf_counter()
        recall, largest, work = simulate(unit, s)
        print(
            f"n={args.customers:,} tables={tables} bits={bits} max_bucket={max_bucket} levels={levels}: "
            f"recall@10={recall:.3f} largest_bucket={largest:,} work={work:.1f}G "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
