"""The model directory: a readable manifest.json (SPEC section 10) plus optional MLlib stages.

The manifest is written last; a directory without one is not a model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segspark.exc import FeatureMismatchError, MissingInputError, SegsparkError
from segspark.paths import is_local, local_path, table_path

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REGISTRY = "archetypes"  # the model's table of every observed archetype (archetype_id, archetype_key, customers)


@dataclass
class AxisModel:
    """One fitted axis, in the manifest's field names."""

    features: list[str]
    columns: list[str]
    primary: str
    transforms: dict[str, dict[str, Any]]
    impute: dict[str, float]
    scaler_mean: list[float]
    scaler_scale: list[float]
    centers_scaled: list[list[float]]
    centers_original: list[list[float]]
    segment_ids: list[str]
    tiers: list[int]
    names: list[str]
    interpretations: list[str]
    sizes: list[int]
    silhouette_by_k: dict[str, float]
    k: int
    population: dict[str, dict[str, float]]
    k_search_rows: int = 0
    warnings: list[str] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)
    name_source: str = "deterministic"
    name_sources: list[str] = field(default_factory=list)  # per segment: claude or deterministic
    # The k search's floor on segment size (customers), and why each k not chosen was refused.
    min_segment_size: int = 0
    k_rejected: dict[str, str] = field(default_factory=dict)

    def centres(self) -> np.ndarray:
        """Scaled centres as an array (k x d)."""
        return np.asarray(self.centers_scaled, dtype=float)


@dataclass
class Manifest:
    """A whole model."""

    model_version: str
    as_of: str
    source: str
    input_fingerprint: str
    axes: dict[str, AxisModel]
    archetype_axes: list[str]
    # The most common observed archetypes (at most fit.TOP_ARCHETYPES); all of them are in the model's
    # `archetypes/` table (REGISTRY), `archetype_count` of them.
    archetypes: list[dict[str, Any]]
    archetype_count: int = 0
    skipped_axes: dict[str, str] = field(default_factory=dict)
    # Features of fitted axes left out on this source (e.g. time of day on a date-only export), with why.
    dropped_features: dict[str, str] = field(default_factory=dict)
    previous_model: str | None = None
    refit_reason: list[str] = field(default_factory=list)  # why a scheduled run refitted (empty: a requested fit)
    fit_config: dict[str, Any] = field(default_factory=dict)
    silhouette_distance: str = "squared_euclidean"
    scaler_std: str = "sample standard deviation (Spark StandardScaler)"
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """The manifest as indented JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Rebuild a manifest from its JSON form."""
        if data.get("format_version") != FORMAT_VERSION:
            raise SegsparkError(
                f"model format {data.get('format_version')} is not supported (expected {FORMAT_VERSION})"
            )
        axes = {name: AxisModel(**ax) for name, ax in data["axes"].items()}
        return cls(**{**data, "axes": axes})

    def feature_columns(self) -> list[str]:
        """Every feature column the model scores, in axis order."""
        return [c for ax in self.axes.values() for c in ax.columns]

    def check_columns(self, columns: Sequence[str]) -> None:
        """Fail, naming the columns, unless every feature column the model needs is present."""
        missing = [c for c in self.feature_columns() if c not in set(columns)]
        if missing:
            raise FeatureMismatchError(
                f"features do not match model {self.model_version}: missing column(s) {missing}. "
                "Compute features with the axes configuration the model was fitted with.",
                missing,
            )


def model_dir(root: str, version: str) -> str:
    """Where a model version lives."""
    return table_path(root, "models", version)


def save_manifest(root: str, manifest: Manifest) -> str:
    """Write manifest.json last and atomically (local); return the model directory."""
    directory = model_dir(root, manifest.model_version)
    if not is_local(directory):
        raise SegsparkError("saving models to a remote warehouse needs a local or mounted path (e.g. /dbfs/...)")
    path = local_path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (MANIFEST + ".tmp")
    tmp.write_text(manifest.to_json())
    os.replace(tmp, path / MANIFEST)
    return str(path)


def load_manifest(path_or_root: str, version: str | None = None) -> Manifest:
    """Load a model from its directory, or `version` (or the newest) under a warehouse root."""
    base = local_path(path_or_root)
    if version is None and (base / MANIFEST).is_file():
        target = base / MANIFEST
    else:
        models = local_path(table_path(str(base), "models"))
        candidates = sorted(models.glob(f"{version or '*'}/{MANIFEST}"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise MissingInputError(f"no fitted model found under {models}; run `segspark fit` first")
        target = candidates[-1]
    return Manifest.from_dict(json.loads(Path(target).read_text()))
