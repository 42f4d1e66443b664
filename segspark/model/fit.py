"""Fit a model on a features snapshot: every axis, its identities, names and archetypes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

from segspark.exc import SegsparkError
from segspark.features.axes import AxisSpec
from segspark.model import identity, naming
from segspark.model.archetypes import archetype_registry, observed_archetypes
from segspark.model.kmeans import AxisFit, AxisUnfittable, KSearch, fit_axis
from segspark.model.manifest import AxisModel, Manifest
from segspark.model.stats import axis_transforms, population_stats
from segspark.model.transforms import inverse_transform, spark_transform

log = logging.getLogger(__name__)


def _axis_model(
    axis: AxisSpec,
    fitted: AxisFit,
    transforms: dict[str, dict[str, Any]],
    stats: Mapping[str, Mapping[str, float]],
    previous: AxisModel | None,
    max_match: float,
    min_silhouette: float,
    min_size: int,
) -> AxisModel:
    features = list(axis.features)
    mean = np.asarray(fitted.scaler.mean.toArray(), dtype=float)
    std = np.asarray(fitted.scaler.std.toArray(), dtype=float)
    raw_centres = np.asarray([c for c in fitted.kmeans.clusterCenters()], dtype=float)
    keep = [i for i, size in enumerate(fitted.sizes) if size > 0]  # an emptied cluster is no segment
    centres, sizes = raw_centres[keep], [fitted.sizes[i] for i in keep]
    transformed = centres * np.where(std > 0, std, 0.0) + mean
    original = np.column_stack([inverse_transform(transformed[:, j], transforms[f]) for j, f in enumerate(features)])
    primary = original[:, features.index(axis.primary)]
    lineage: dict[str, Any] = {}
    if (
        previous is not None
        and previous.features == features
        and all(previous.transforms[f]["kind"] == transforms[f]["kind"] for f in features)
    ):
        # Compare in the previous model's scaled space.
        prev_std = np.asarray(previous.scaler_scale)
        in_prev = np.where(
            prev_std > 0, (transformed - np.asarray(previous.scaler_mean)) / np.where(prev_std > 0, prev_std, 1), 0
        )
        found = identity.match(axis.name, in_prev, previous.centres(), previous.segment_ids, primary, max_match)
        ids = found.ids
        lineage = {k: v for k, v in asdict(found).items() if k != "ids"}
    else:
        ids = identity.first_ids(axis.name, primary)
        if previous is not None:
            lineage = {"note": "features or transforms changed; identities restarted"}
    tiers = identity.tiers(primary)
    medians = [stats[axis.column(f)]["median"] for f in features]
    kept: list[str | None] = [None] * len(ids)
    if previous is not None and lineage.get("matched"):
        # A matched segment keeps its name (and interpretation) from the previous model; new ones are
        # named around the kept names.
        old = dict(zip(previous.segment_ids, previous.names, strict=True))
        kept = [old[i] if i in lineage["matched"] else None for i in ids]
    names = naming.unique_names(axis.name, features, centres, fixed=kept)
    interpretations = [naming.interpretation(features, row, medians) for row in original]
    sources = ["deterministic"] * len(ids)
    if previous is not None and lineage.get("matched"):
        prev_sources = previous.name_sources if len(previous.name_sources) == previous.k else []
        old_s = dict(zip(previous.segment_ids, prev_sources, strict=False))
        sources = [old_s.get(i, "deterministic") if i in lineage["matched"] else "deterministic" for i in ids]
        # Claude's wording is kept with its name; a deterministic sentence quotes numbers, so it is
        # rewritten from the new centre rather than left stale.
        old_i = dict(zip(previous.segment_ids, previous.interpretations, strict=True))
        interpretations = [
            old_i[i] if src == "claude" else t for i, t, src in zip(ids, interpretations, sources, strict=True)
        ]
    warnings = []
    best = fitted.silhouette_by_k[fitted.k]
    if best < min_silhouette:
        warnings.append(f"best silhouette {best:.3f} (k={fitted.k}) is below min_silhouette {min_silhouette}")
        log.warning("axis %s: %s", axis.name, warnings[-1])
    return AxisModel(
        features=features,
        columns=[axis.column(f) for f in features],
        primary=axis.primary,
        transforms=transforms,
        impute={f: stats[axis.column(f)]["median"] for f in features},
        scaler_mean=mean.tolist(),
        scaler_scale=std.tolist(),
        centers_scaled=centres.tolist(),
        centers_original=original.tolist(),
        segment_ids=ids,
        tiers=tiers,
        names=names,
        interpretations=interpretations,
        sizes=sizes,
        silhouette_by_k={str(k): round(v, 6) for k, v in sorted(fitted.silhouette_by_k.items())},
        k=len(ids),
        population={f: dict(stats[axis.column(f)]) for f in features},
        k_search_rows=fitted.search_rows,
        warnings=warnings,
        lineage=lineage,
        name_sources=sources,
        name_source="claude" if "claude" in sources else "deterministic",
        min_segment_size=min_size,
        k_rejected={str(k): why for k, why in sorted(fitted.rejected.items())},
    )


def fit_model(
    features: DataFrame,
    axes: Sequence[AxisSpec],
    *,
    as_of: str,
    source: str,
    cfg: Mapping[str, Any],
    previous: Manifest | None = None,
    skipped: Mapping[str, str] | None = None,
    registry_at: Callable[[str], str] | None = None,
) -> tuple[Manifest, dict[str, AxisFit]]:
    """Fit every axis whose columns are in `features`; return the manifest and the MLlib fits.

    `registry_at(model_version)`: where to write the archetype registry table (Parquet), which the manifest's
    most common archetypes and count are then read from; without it the registry is only counted.
    """
    present = set(features.columns)
    runnable = []
    skipped_axes = dict(skipped or {})
    for axis in axes:
        if not axis.enabled:
            continue
        kept = {f: t for f, t in axis.features.items() if axis.column(f) in present}
        if not kept:
            skipped_axes.setdefault(axis.name, "no feature columns in the features table")
            continue
        primary = axis.primary if axis.primary in kept else next(iter(kept))
        runnable.append(AxisSpec(axis.name, True, axis.marketing, axis.needs, primary, kept))
    stats, bounds, fingerprint, observed = population_stats(features, runnable)
    total = int(fingerprint.split(":")[0])
    search = KSearch(
        int(cfg["k_min"]),
        int(cfg["k_max"]),
        int(cfg["seed"]),
        int(cfg["max_iter"]),
        float(cfg["tol"]),
        int(cfg["k_search_sample_size"]),
        float(cfg["min_segment_share"]),
        int(cfg["min_segment_customers"]),
        str(cfg.get("k_search_engine", "numpy")),
    )
    min_size = search.min_size(total, total)
    supported = []
    for axis in runnable:
        # An axis needs k_min segments of the minimum size among customers it actually observes; the
        # rest of its customers would only be imputed medians.
        needed = search.k_min * min_size
        if observed[axis.name] < needed:
            skipped_axes[axis.name] = (
                f"only {observed[axis.name]} customers have every feature of this axis observed; {search.k_min} "
                f"segments of at least {min_size} customers need {needed}"
            )
            log.info("axis %s skipped: %s", axis.name, skipped_axes[axis.name])
        else:
            supported.append(axis)
    runnable = supported
    transforms = {axis.name: axis_transforms(axis, bounds) for axis in runnable}

    partitions = min(int(cfg["partitions"]), max(1, -(-total // int(cfg["rows_per_partition"]))))

    def prepared(axis: AxisSpec) -> DataFrame:
        cols = [
            spark_transform(F.col(axis.column(f)), transforms[axis.name][f], stats[axis.column(f)]["median"]).alias(
                axis.column(f)
            )
            for f in axis.features
        ]
        # Same data, same order, same partitions: KMeans then gives the same centres.
        return (
            features.select("customer_id", *cols)
            .repartition(partitions, "customer_id")
            .sortWithinPartitions("customer_id")
        )

    def run(axis: AxisSpec) -> tuple[str, AxisFit | str]:
        log.info("fitting axis %s (%d features, k=%d..%d)", axis.name, len(axis.features), search.k_min, search.k_max)
        try:
            fitted = fit_axis(prepared(axis), [axis.column(f) for f in axis.features], total, search)
        except AxisUnfittable as err:
            log.info("axis %s skipped: %s", axis.name, err)
            return axis.name, str(err)
        log.info(
            "axis %s: k=%d, silhouette by k %s",
            axis.name,
            fitted.k,
            {k: round(v, 3) for k, v in fitted.silhouette_by_k.items()},
        )
        return axis.name, fitted

    # Spark Connect keeps the active session per thread and MLlib's Connect calls need it, so axes are
    # fitted one after another there; classic Spark fits several at once to fill the cores.
    workers = 1 if is_remote() else max(1, int(cfg["parallelism"]))
    if workers == 1:
        outcomes = dict(map(run, runnable))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = dict(pool.map(run, runnable))
    fits = {name: got for name, got in outcomes.items() if isinstance(got, AxisFit)}
    skipped_axes.update({name: got for name, got in outcomes.items() if isinstance(got, str)})
    runnable = [axis for axis in runnable if axis.name in fits]
    if not runnable:
        raise SegsparkError(
            "no axis can be fitted on this source: "
            + "; ".join(f"{name}: {why}" for name, why in skipped_axes.items() if why)
        )
    models = {
        axis.name: _axis_model(
            axis,
            fits[axis.name],
            transforms[axis.name],
            stats,
            previous.axes.get(axis.name) if previous else None,
            float(cfg["max_match_distance"]),
            float(cfg["min_silhouette"]),
            min_size,
        )
        for axis in runnable
    }
    wanted = list(cfg.get("archetype_axes") or [])
    arche_axes = [a for a in wanted if a in models] if wanted else [a.name for a in runnable if a.marketing]
    keys = (
        "k_min",
        "k_max",
        "seed",
        "max_iter",
        "tol",
        "k_search_sample_size",
        "partitions",
        "rows_per_partition",
        "min_segment_share",
        "min_segment_customers",
    )
    settings = {**{k: cfg[k] for k in keys}, "fit_partitions": partitions}
    digest = hashlib.sha256(
        json.dumps([fingerprint, settings, [asdict(a) for a in runnable]], sort_keys=True, default=str).encode()
    ).hexdigest()[:8]
    manifest = Manifest(
        model_version=f"m{as_of.replace('-', '')}-{digest}",
        as_of=as_of,
        source=source,
        input_fingerprint=fingerprint,
        axes=models,
        archetype_axes=arche_axes,
        archetypes=[],
        skipped_axes=skipped_axes,
        previous_model=previous.model_version if previous else None,
        fit_config=settings,
    )
    if arche_axes:
        registry = archetype_registry(features, models, arche_axes)
        if registry_at is not None:
            # Aggregated once: written as Spark partitions it (a single-file coalesce would put every
            # combination in one task), then read back, small, for the manifest.
            path = registry_at(manifest.model_version)
            registry.write.mode("overwrite").parquet(path)
            registry = features.sparkSession.read.parquet(path)
        registry = registry.cache()
        try:
            manifest.archetypes = observed_archetypes(registry, arche_axes)
            manifest.archetype_count = registry.count()
        finally:
            registry.unpersist()
    return manifest, fits
