"""MLlib's KMeans (k-means|| initialisation, then Lloyd) and its silhouette, replayed in numpy.

The k search fits k = 2..6 on every axis. In MLlib each Lloyd iteration and each
initialisation pass is a Spark job (about 1,400 jobs for one fit of Online
Retail II, ~35 ms of driver overhead each, whatever the data size). This module
runs the same algorithm on one task's numpy arrays: the same random draws
(`jrandom`), the same sampling of the first centre, the same candidates, the
same local k-means++ and the same Lloyd updates, in the order MLlib makes them,
so it finds the same centres as `pyspark.ml.clustering.KMeans(seed=...,
solver="row")` on the same partitions (within rounding: MLlib's own result
varies in the last bits with the order partitions reach its sums). The final
model of each axis is still fitted by MLlib; tests compare the two.

Input: the points of each Spark partition, in partition order and in each
partition's row order, since MLlib's draws depend on both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from segspark.model.jrandom import JavaRandom, XorShiftRandom, int32

_EPS = 2.220446049250313e-16  # MLUtils.EPSILON: the machine epsilon
_PRECISION = 1e-6  # MLUtils.fastSquaredDistance's default precision
_INIT_STEPS = 2  # KMeans.initSteps' default
_LOCAL_ITER = 30  # LocalKMeans rounds on the candidates
_GAP_FRACTION = 0.4  # RandomSampler.defaultMaxGapSamplingFraction
_RNG_EPSILON = 5e-11  # RandomSampler.rngEpsilon


@dataclass(frozen=True)
class Clustering:
    """One k's outcome: centres (fewer than k when the data has fewer distinct points), sizes over k, silhouette."""

    centres: np.ndarray
    sizes: list[int]
    silhouette: float | None


def norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norms, summed in coordinate order like Vectors.norm."""
    total = np.zeros(len(x))
    for j in range(x.shape[1]):
        total = total + x[:, j] * x[:, j]
    return np.sqrt(total)


def _dot(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """x . c for each row of x against each row of c, in the Java BLAS's order (blocks of four)."""
    d = x.shape[1]
    total = np.zeros((len(x), len(c)))
    j = 0
    while j + 4 <= d:
        block = x[:, None, j] * c[None, :, j]
        for t in range(j + 1, j + 4):
            block = block + x[:, None, t] * c[None, :, t]
        total = total + block
        j += 4
    for t in range(j, d):
        total = total + x[:, None, t] * c[None, :, t]
    return total


def sq_distances(x: np.ndarray, xn: np.ndarray, c: np.ndarray, cn: np.ndarray) -> np.ndarray:
    """MLUtils.fastSquaredDistance of every point to every centre: the norm form where it is precise enough."""
    both = xn[:, None] ** 2 + cn[None, :] ** 2
    diff = xn[:, None] - cn[None, :]
    bound = 2.0 * _EPS * both / (diff * diff + _EPS)
    fast = both - 2.0 * _dot(x, c)
    exact = np.zeros_like(both)
    for t in range(x.shape[1]):
        step = x[:, None, t] - c[None, :, t]
        exact = exact + step * step
    out: np.ndarray = np.where(bound < _PRECISION, fast, exact)
    return out


def closest(x: np.ndarray, xn: np.ndarray, c: np.ndarray, cn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, squared distance) of each point's nearest centre; ties to the lower index, as in MLlib."""
    d = sq_distances(x, xn, c, cn)
    best = np.argmin(d, axis=1)
    return best, d[np.arange(len(x)), best]


def _seq_sum(values: np.ndarray) -> float:
    """A left-to-right sum, as a JVM loop adds."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def _first_centre(parts: list[np.ndarray], seed: int) -> int:
    """RDD.takeSample(false, 1, seed) over the partitions: the global row index of the point it returns."""
    total = sum(len(p) for p in parts)
    rand = JavaRandom(seed)
    if total <= 1:
        return 0
    fraction = 1.0 / total
    gamma = -math.log(1e-4) / total
    fraction = min(1.0, max(1e-10, fraction + gamma + math.sqrt(gamma * gamma + 2 * gamma * fraction)))
    while True:
        picked = _bernoulli(parts, fraction, rand.next_int())
        if picked:
            break
    for i in range(len(picked) - 1, 0, -1):  # Utils.randomizeInPlace
        j = rand.next_int(i + 1)
        picked[i], picked[j] = picked[j], picked[i]
    return picked[0]


def _bernoulli(parts: list[np.ndarray], fraction: float, seed: int) -> list[int]:
    """RDD.sample(false, fraction, seed): one BernoulliSampler per partition, seeded in partition order."""
    seeds = JavaRandom(seed)
    out: list[int] = []
    offset = 0
    for part in parts:
        rng = XorShiftRandom(seeds.next_long())
        n = len(part)
        if fraction >= 1.0:
            out.extend(range(offset, offset + n))
        elif fraction <= _GAP_FRACTION:
            lnq = math.log1p(-fraction)
            i = int(math.log(max(rng.next_double(), _RNG_EPSILON)) / lnq)
            while i < n:  # GapSampling: skip a geometric gap, keep one
                out.append(offset + i)
                i += 1 + int(math.log(max(rng.next_double(), _RNG_EPSILON)) / lnq)
        else:
            out.extend(offset + i for i in range(n) if rng.next_double() <= fraction)
        offset += n
    return out


def _uniforms(seed: int, n: int) -> np.ndarray:
    rng = XorShiftRandom(seed)
    return np.array([rng.next_double() for _ in range(n)])


class _Draws:
    """The k-means|| per-partition uniforms: the same for every k, so drawn once per axis.

    `seed` is the KMeans seed; like MLlib, the draws use the first int of an XORShiftRandom seeded with it.
    """

    def __init__(self, seed: int, bounds: list[int]) -> None:
        self.seed = XorShiftRandom(seed).next_int()
        self.sizes = [b - a for a, b in pairwise(bounds)]
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def get(self, step: int, index: int) -> np.ndarray:
        key = (step, index)
        if key not in self._cache:
            self._cache[key] = _uniforms(int32(self.seed ^ (step << 16) ^ index), self.sizes[index])
        return self._cache[key]


def _init_parallel(x: np.ndarray, xn: np.ndarray, bounds: list[int], k: int, draws: _Draws) -> np.ndarray:
    """KMeans.initKMeansParallel: candidate centres by two sampling passes, reduced to k by local k-means++."""
    parts = [x[a:b] for a, b in pairwise(bounds)]
    first = _first_centre(parts, draws.seed)
    centres = [x[first]]
    new = x[first : first + 1]
    costs = np.full(len(x), np.inf)
    for step in range(_INIT_STEPS):
        if len(new):  # no new centres leave every cost as it was (MLlib's pointCost over none is infinite)
            _, cost = closest(x, xn, new, norms(new))
            costs = np.minimum(cost, costs)
        total = 0.0
        for a, b in pairwise(bounds):  # RDD.sum: a fold per partition, then across them
            total = total + _seq_sum(costs[a:b])
        chosen = []
        for p, (a, b) in enumerate(pairwise(bounds)):
            with np.errstate(invalid="ignore", divide="ignore"):  # every cost 0: 0/0 is NaN, never below
                keep = draws.get(step, p) < 2.0 * costs[a:b] * k / total
            chosen.append(x[a:b][keep])
        new = np.concatenate(chosen) if chosen else np.empty((0, x.shape[1]))
        centres.extend(new)
    distinct = list(dict.fromkeys(tuple(float(v) for v in c) for c in centres))
    cands = np.array(distinct)
    if len(cands) <= k:
        return cands
    index, _ = closest(x, xn, cands, norms(cands))
    weights = np.bincount(index, minlength=len(cands)).astype(float)
    return _local_kmeans_pp(cands, weights, k)


def _local_kmeans_pp(points: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """LocalKMeans.kMeansPlusPlus(seed 0): weighted k-means++ seeding, then up to 30 weighted Lloyd rounds."""
    rand = JavaRandom(0)
    pn = norms(points)
    r = rand.next_double() * _seq_sum(weights)
    cum = np.cumsum(weights)
    i = int(np.argmax(cum >= r)) if (cum >= r).any() else len(points) - 1
    if not r > 0:
        i = -1  # the JVM's loop never runs and reads points(-1); it fails there, never with these weights
    centres = [points[i]]
    cost = sq_distances(points, pn, points[i : i + 1], pn[i : i + 1])[:, 0]
    for _ in range(1, k):
        r = rand.next_double() * _seq_sum(cost * weights)
        cum = np.cumsum(weights * cost)
        hit = np.flatnonzero(cum >= r)
        j = 0 if not r > 0 else (int(hit[0]) if len(hit) else len(points) - 1)
        centres.append(points[j])
        cost = np.minimum(sq_distances(points, pn, points[j : j + 1], pn[j : j + 1])[:, 0], cost)
    c = np.array(centres)
    old = np.full(len(points), -1)
    for _ in range(_LOCAL_ITER):
        index, _ = closest(points, pn, c, norms(c))
        moved = bool((index != old).any())
        old = index
        counts = np.bincount(index, weights=weights, minlength=k)
        sums = np.column_stack(
            [np.bincount(index, weights=weights * points[:, t], minlength=k) for t in range(points.shape[1])]
        )
        for j in range(k):
            c[j] = points[rand.next_int(len(points))] if counts[j] == 0.0 else sums[j] * (1.0 / counts[j])
        if not moved:
            break
    return c


def kmeans(
    x: np.ndarray, bounds: list[int], k: int, seed: int, max_iter: int, tol: float, draws: _Draws | None = None
) -> np.ndarray:
    """MLlib KMeans centres for points `x` whose partition p holds rows bounds[p]:bounds[p+1]."""
    xn = norms(x)
    draws = draws or _Draws(seed, bounds)
    c = _init_parallel(x, xn, bounds, k, draws)
    for _ in range(max_iter):
        index, _ = closest(x, xn, c, norms(c))
        sums = np.zeros_like(c)
        counts = np.zeros(len(c))
        for a, b in pairwise(bounds):  # per partition, then merged in partition order
            part = index[a:b]
            counts += np.bincount(part, minlength=len(c))
            sums += np.column_stack([np.bincount(part, weights=x[a:b, t], minlength=len(c)) for t in range(x.shape[1])])
        new = c.copy()
        filled = counts > 0
        new[filled] = sums[filled] * (1.0 / counts[filled])[:, None]
        moved = sq_distances(new[filled], norms(new[filled]), c[filled], norms(c[filled]))
        converged = bool((np.diagonal(moved) <= tol * tol).all())
        c = new
        if converged:
            break
    return c


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """ClusteringEvaluator's squared-Euclidean silhouette in closed form (a point alone in its cluster scores 0).

    The mean squared distance of a point to cluster C is ||x||^2 + Psi_C / N_C - 2 x.Y_C / N_C, with Y_C the
    sum of C's points and Psi_C the sum of their squared norms.
    """
    ks = np.unique(labels)
    pos = np.searchsorted(ks, labels)
    counts = np.bincount(pos).astype(float)
    sums = np.column_stack([np.bincount(pos, weights=x[:, t]) for t in range(x.shape[1])])
    sq = norms(x) ** 2
    psi = np.bincount(pos, weights=sq)
    d = sq[:, None] + (psi / counts)[None, :] - 2.0 * (x @ sums.T) / counts[None, :]
    rows = np.arange(len(x))
    n_own = counts[pos]
    a = d[rows, pos] * n_own / np.maximum(n_own - 1, 1)
    d[rows, pos] = np.inf
    b = d.min(axis=1) if len(ks) > 1 else np.full(len(x), np.inf)
    s = np.where(a < b, 1 - a / np.where(b > 0, b, 1), np.where(a > b, b / np.where(a > 0, a, 1) - 1, 0.0))
    return float(np.where(n_own == 1, 0.0, s).mean())


def search(x: np.ndarray, bounds: list[int], ks: range, seed: int, max_iter: int, tol: float) -> dict[int, Clustering]:
    """Every k's clustering of the same points, with the silhouette where every one of the k clusters is used."""
    xn = norms(x)
    draws = _Draws(seed, bounds)
    out = {}
    for k in ks:
        c = kmeans(x, bounds, k, seed, max_iter, tol, draws)
        labels, _ = closest(x, xn, c, norms(c))
        sizes = np.bincount(labels, minlength=k).tolist()
        sil = silhouette(x, labels) if min(sizes) > 0 else None
        out[k] = Clustering(c, [int(s) for s in sizes], sil)
    return out
