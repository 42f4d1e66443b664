"""The axes to compute: conf/axes.yaml, a selection from the feature registry (features.registry), validated.

Per axis the file may set `enabled`, `marketing`, `primary` and `features`: a list of the registry's feature
names (each with its default transform), or a mapping name -> transform to override one. The inputs an axis
needs come from the registry (`needs` in the file adds to them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from segspark.config import shipped_file
from segspark.exc import ConfigError
from segspark.features.registry import AXES, BY_AXIS, INPUTS, TRANSFORMS, Feature

# Every feature segspark can compute, by axis, with the inputs it needs beyond the axis's own (derived from
# the registry, which declares each feature once).
KNOWN: dict[str, dict[str, tuple[str, ...]]] = {a: {n: f.needs for n, f in fs.items()} for a, fs in BY_AXIS.items()}


@dataclass(frozen=True)
class Transform:
    """A feature's transform before scaling; `clip` carries its quantiles."""

    kind: str
    clip: tuple[float, float] | None = None


@dataclass(frozen=True)
class AxisSpec:
    """One axis as configured."""

    name: str
    enabled: bool
    marketing: bool
    needs: tuple[str, ...]
    primary: str
    features: Mapping[str, Transform]

    def column(self, feature: str) -> str:
        """The features-table column of one of this axis's features."""
        return f"{self.name}__{feature}"


def _default(feature: Feature) -> dict[str, Any]:
    """A registry feature's default transform, in the file's form."""
    return {"transform": feature.transform, **({"clip": list(feature.clip)} if feature.clip else {})}


def _transform(where: str, raw: Any) -> Transform:
    if isinstance(raw, str):
        raw = {"transform": raw}
    if not isinstance(raw, Mapping) or raw.get("transform") not in TRANSFORMS:
        raise ConfigError(f"{where}: transform must be one of {TRANSFORMS}")
    if raw["transform"] != "clip":
        return Transform(str(raw["transform"]))
    bounds = raw.get("clip")
    if not (isinstance(bounds, list) and len(bounds) == 2 and 0 <= bounds[0] < bounds[1] <= 1):
        raise ConfigError(f"{where}: clip needs [low_quantile, high_quantile] with 0 <= low < high <= 1")
    return Transform("clip", (float(bounds[0]), float(bounds[1])))


def parse_axes(data: Mapping[str, Any], origin: str) -> list[AxisSpec]:
    """Validate an axes document; return the axes in file order."""
    axes = data.get("axes")
    if not isinstance(axes, Mapping) or not axes:
        raise ConfigError(f"{origin}: expected a top-level 'axes' mapping")
    out = []
    for name, raw in axes.items():
        where = f"{origin}: axis {name}"
        if name not in KNOWN:
            raise ConfigError(f"{where}: unknown axis; known: {sorted(KNOWN)}")
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: must be a mapping")
        unknown = set(raw) - {"enabled", "marketing", "needs", "primary", "features"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        facts = AXES[name]
        needs = tuple(dict.fromkeys([*facts.needs, *(raw.get("needs") or ())]))
        if bad := [n for n in needs if n not in INPUTS]:
            raise ConfigError(f"{where}: unknown input(s) {bad}; known: {INPUTS}")
        chosen = raw.get("features") if "features" in raw else list(BY_AXIS[name])
        if isinstance(chosen, list):
            chosen = {f: None for f in chosen}
        if not isinstance(chosen, Mapping) or not chosen:
            raise ConfigError(f"{where}: needs at least one feature")
        if bad := [f for f in chosen if f not in KNOWN[name]]:
            raise ConfigError(f"{where}: unknown feature(s) {bad}; known: {sorted(KNOWN[name])}")
        features = {str(f): t if t is not None else _default(BY_AXIS[name][f]) for f, t in chosen.items()}
        primary = str(raw.get("primary") or (facts.primary if facts.primary in features else next(iter(features))))
        if primary not in features:
            raise ConfigError(f"{where}: primary {primary!r} is not one of its features")
        out.append(
            AxisSpec(
                name=str(name),
                enabled=bool(raw.get("enabled", True)),
                marketing=bool(raw.get("marketing", facts.marketing)),
                needs=needs,
                primary=primary,
                features={str(f): _transform(f"{where}.{f}", t) for f, t in features.items()},
            )
        )
    return out


def load_axes(path: str | None = None) -> list[AxisSpec]:
    """Load axes from a file path, or the shipped conf/axes.yaml when `path` is None or a bare name."""
    own = bool(path) and ("/" in str(path) or Path(str(path)).exists())
    file: Path | Traversable = Path(str(path)) if own else shipped_file(path or "axes.yaml")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"cannot read axes file {file}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{file} is not valid YAML: {err}") from None
    return parse_axes(data, str(file))
