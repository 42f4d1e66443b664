"""A fitted model as one object, used the way a `pyspark.ml` model is:

    model = SegmentationModel.load("warehouse")          # the newest model, or .load(root, version)
    profiles = model.transform(features_df)              # one profile row per customer

`transform` is the scoring step's own pass (`score.spark.score_profiles`): the same memberships, dominant
segments, tiers, archetypes and fingerprints `segspark score` writes, without the business metrics that
step joins from the orders table.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from pyspark.sql import DataFrame

from segspark.model.manifest import MANIFEST, REGISTRY, Manifest, load_manifest, model_dir, save_manifest
from segspark.model.step import registry_in
from segspark.paths import local_path
from segspark.score.core import ScoringModel
from segspark.score.spark import score_profiles


@dataclass(frozen=True)
class SegmentationModel:
    """A fitted segmentation model (its manifest) and the directory it was loaded from."""

    manifest: Manifest
    path: str

    @classmethod
    def load(cls, path: str, version: str | None = None) -> SegmentationModel:
        """The model saved in directory `path`, or model `version` (default: the newest) of the warehouse
        rooted at `path`."""
        manifest = load_manifest(path, version)
        own = version is None and (local_path(path) / MANIFEST).is_file()
        return cls(manifest, path if own else model_dir(path, manifest.model_version))

    @property
    def version(self) -> str:
        """The model version (`m<as_of>-<digest>`)."""
        return self.manifest.model_version

    @property
    def axes(self) -> list[str]:
        """The fitted axes, in scoring order."""
        return list(self.manifest.axes)

    @property
    def feature_columns(self) -> list[str]:
        """The features columns `transform` reads, besides customer_id."""
        return [c for ax in self.manifest.axes.values() for c in ax.columns]

    def save(self, root: str) -> str:
        """Save the model under the warehouse `root` (manifest and archetype registry); return its directory."""
        target = model_dir(root, self.version)
        source = local_path(f"{self.path}/{REGISTRY}")
        if source.is_dir() and source.resolve() != local_path(f"{target}/{REGISTRY}").resolve():
            shutil.copytree(source, local_path(f"{target}/{REGISTRY}"), dirs_exist_ok=True)
        return save_manifest(root, self.manifest)  # last: the manifest makes the directory a model

    def transform(self, features: DataFrame) -> DataFrame:
        """Score `features` (customer_id and `feature_columns`): one row per customer with the profile
        columns of `customer_profiles` (score.spark.PROFILE_SCHEMA)."""
        self.manifest.check_columns(features.columns)
        registry = registry_in(features.sparkSession, self.path, self.manifest)
        return score_profiles(features, ScoringModel.from_manifest(self.manifest), registry)
