"""Layered configuration: shipped base.yaml, an environment overlay, --set overrides.

base.yaml is the schema: an overlay may only set keys that exist there, with a
value of the same type, so a typo fails at load time with the key's name
instead of being silently ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from segspark.exc import ConfigError

SHIPPED_CONF = resources.files("segspark") / "conf"


def shipped_file(name: str) -> Traversable:
    """A file shipped in the package's conf/ directory. Not a Path: under spark-submit the package may
    be a wheel on --py-files, read in place as a zip."""
    return SHIPPED_CONF.joinpath(*name.split("/"))


def _read_yaml(path: Path | Traversable) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return default is None or isinstance(value, type(None))
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))


def _overlay(base: dict[str, Any], extra: Mapping[str, Any], origin: str, prefix: str = "") -> None:
    for key, value in extra.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"unknown configuration key '{dotted}' (from {origin})")
        default = base[key]
        if isinstance(default, dict) and default:
            if not isinstance(value, Mapping):
                raise ConfigError(f"'{dotted}' must be a mapping (from {origin})")
            _overlay(default, value, origin, prefix=f"{dotted}.")
            continue
        if default is None:
            # Optional keys take a string (a date, a path) or stay null; YAML's
            # dates (and date-times, a date subclass) are kept as ISO text.
            if value is not None and not isinstance(value, (str, int, float, date)):
                raise ConfigError(f"'{dotted}' must be a scalar, got {type(value).__name__} (from {origin})")
            base[key] = None if value is None else (value.isoformat() if isinstance(value, date) else str(value))
            continue
        if not _type_ok(default, value):
            raise ConfigError(
                f"'{dotted}' must be {type(default).__name__}, got {type(value).__name__} {value!r} (from {origin})"
            )
        base[key] = float(value) if isinstance(default, float) else value


def parse_set(assignment: str) -> tuple[list[str], Any]:
    """Split a `--set a.b=value` override into its key path and YAML-parsed value."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {assignment!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


@dataclass(frozen=True)
class Config:
    """The effective configuration: a validated nested mapping."""

    data: Mapping[str, Any]
    origins: tuple[str, ...]

    def get(self, dotted: str) -> Any:
        """Return the value at a dotted key such as `ingest.max_malformed_fraction`."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ConfigError(f"unknown configuration key '{dotted}'")
            node = node[part]
        return node

    def section(self, name: str) -> Mapping[str, Any]:
        """Return one top-level section as a mapping."""
        value = self.get(name)
        if not isinstance(value, Mapping):
            raise ConfigError(f"'{name}' is not a section")
        return value


def load_config(overlays: Sequence[str | Path] = (), sets: Sequence[str] = ()) -> Config:
    """Load base.yaml, apply overlay files in order, then `--set` overrides."""
    data = copy.deepcopy(_read_yaml(shipped_file("base.yaml")))
    origins = ["base.yaml"]
    for overlay in overlays:
        path = Path(overlay)
        _overlay(data, _read_yaml(path), str(path))
        origins.append(str(path))
    for assignment in sets:
        keys, value = parse_set(assignment)
        nested: dict[str, Any] = {keys[-1]: value}
        for key in reversed(keys[:-1]):
            nested = {key: nested}
        _overlay(data, nested, f"--set {assignment}")
        origins.append(f"--set {assignment}")
    _check_values(data)
    return Config(data=data, origins=tuple(origins))


def _check_values(data: Mapping[str, Any]) -> None:
    """Values whose type is right but whose meaning is not: refused here, before Spark starts."""
    fit, ingest = data["fit"], data["ingest"]
    if fit["k_min"] < 2:
        raise ConfigError(f"'fit.k_min' must be at least 2 (one segment is no segmentation), got {fit['k_min']}")
    if fit["k_max"] < fit["k_min"]:
        raise ConfigError(f"'fit.k_max' ({fit['k_max']}) must not be below 'fit.k_min' ({fit['k_min']})")
    if not 0 <= fit["min_segment_share"] < 1:
        raise ConfigError(f"'fit.min_segment_share' must be in [0, 1), got {fit['min_segment_share']}")
    if not 0 <= ingest["max_malformed_fraction"] <= 1:
        raise ConfigError(f"'ingest.max_malformed_fraction' must be in [0, 1], got {ingest['max_malformed_fraction']}")
    cutoff = ingest["max_order_ts"]
    if cutoff is not None:
        try:
            datetime.fromisoformat(str(cutoff))
        except ValueError:
            raise ConfigError(f"'ingest.max_order_ts' must be an ISO date or date-time, got {cutoff!r}") from None
    for key in ("history.backfill_offsets", "drift.baselines"):
        section, name = key.split(".")
        days = data[section][name]
        if not isinstance(days, list) or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in days):
            raise ConfigError(f"'{key}' must be a list of positive day counts, got {days!r}")
