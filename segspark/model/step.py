"""The fit step: committed features of one date -> models/<version>/."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from segspark.features.axes import load_axes
from segspark.mapping import SourceMapping
from segspark.model.claude_names import NamingSettings, name_model
from segspark.model.fit import fit_model
from segspark.model.kmeans import AxisFit
from segspark.model.manifest import REGISTRY, Manifest, load_manifest, model_dir, save_manifest
from segspark.model.naming_cache import CACHE_FILE, load_cache, save_cache
from segspark.paths import local_path
from segspark.tables import committed, read_partitions

log = logging.getLogger(__name__)


def run_fit(
    spark: SparkSession,
    *,
    root: str,
    mapping: SourceMapping,
    as_of: str,
    axes_file: str | None,
    cfg: Mapping[str, Any],
    previous: str | None = None,
    skipped: Mapping[str, str] | None = None,
    naming: Mapping[str, Any] | None = None,
    refit_reason: Sequence[str] = (),
    dropped: Mapping[str, str] | None = None,
) -> tuple[Manifest, str]:
    """Fit on features/snapshot_date=as_of, save the model, return (manifest, its directory)."""
    features = read_partitions(spark, root=root, table="features", key="snapshot_date", values=[as_of]).drop(
        "snapshot_date"
    )
    if skipped is None or dropped is None:
        # A fit of its own (`segspark fit`): the features step recorded its plan's reasons in the commit.
        commit = committed(spark, root=root, table="features", key="snapshot_date").get(as_of)
        recorded = commit.parts[-1].info if commit is not None and commit.parts else {}
        skipped = skipped if skipped is not None else recorded.get("skipped_axes") or {}
        dropped = dropped if dropped is not None else recorded.get("dropped_features") or {}
    prev = load_manifest(previous) if previous else None
    manifest, fits = fit_model(
        features,
        load_axes(axes_file),
        as_of=as_of,
        source=mapping.name,
        cfg=cfg,
        previous=prev,
        skipped=skipped,
        # Every observed combination, as a table next to the manifest (which lists only the most common).
        registry_at=lambda version: f"{model_dir(root, version)}/{REGISTRY}",
    )
    manifest.refit_reason = list(refit_reason)
    fitted = {c for ax in manifest.axes.values() for c in ax.columns}
    manifest.dropped_features = {
        c: why for c, why in (dropped or {}).items() if c.split("__")[0] in manifest.axes and c not in fitted
    }
    base = model_dir(root, manifest.model_version)
    if naming is not None:
        manifest = name_and_cache(manifest, base, NamingSettings.from_config(naming), previous)
    if cfg.get("save_mllib", True):
        save_stages(fits, base)
    path = save_manifest(root, manifest)  # last: the manifest makes the directory a model
    return manifest, path


def read_registry(spark: SparkSession, root: str, manifest: Manifest) -> DataFrame:
    """The archetype keys observed when `manifest` was fitted (column archetype_key)."""
    return registry_in(spark, model_dir(root, manifest.model_version), manifest)


def registry_in(spark: SparkSession, directory: str, manifest: Manifest) -> DataFrame:
    """The archetype keys of the model saved in `directory` (column archetype_key)."""
    path = f"{directory}/{REGISTRY}"
    if local_path(path).is_dir():
        return spark.read.parquet(path).select("archetype_key")
    # A model saved before the registry was a table lists every combination in its manifest.
    return spark.createDataFrame([(str(a["key"]),) for a in manifest.archetypes], "archetype_key string")


def save_stages(fits: Mapping[str, AxisFit], base: str) -> None:
    """Save each axis's MLlib scaler and KMeans under `base`/mllib/<axis>/ (loadable with MLlib's `load`)."""
    # One axis after another: saving several at once from threads measured no faster (2.1-3.9 s
    # against 2.6-3.3 s for the nine axes of Online Retail II); each save is driver work.
    for axis, fitted in fits.items():
        fitted.scaler.write().overwrite().save(f"{base}/mllib/{axis}/scaler")
        fitted.kmeans.write().overwrite().save(f"{base}/mllib/{axis}/kmeans")


def name_and_cache(
    manifest: Manifest, directory: str, settings: NamingSettings, previous: str | None = None, http_client: Any = None
) -> Manifest:
    """Name the model's axes (cache of this and the previous model first) and save the cache with the model."""
    cache = load_cache(local_path(directory).as_posix(), local_path(previous).as_posix() if previous else None)
    size = len(cache)
    named = name_model(manifest, settings, cache, http_client)
    if len(cache) != size or not (local_path(directory) / CACHE_FILE).exists():
        save_cache(local_path(directory).as_posix(), cache)
    return named
