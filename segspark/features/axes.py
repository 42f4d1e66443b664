"""The axis registry: conf/axes.yaml validated against the features segspark knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from segspark.config import shipped_file
from segspark.exc import ConfigError

# time_of_day: the timestamps carry a time of day (not a date-only export, where every line sits at midnight).
# satisfaction, escalation: the tickets carry those columns.
INPUTS = (
    "orders",
    "category",
    "discount",
    "returns",
    "product",
    "channel",
    "tickets",
    "time_of_day",
    "satisfaction",
    "escalation",
)
TRANSFORMS = ("none", "log1p", "signed_log1p", "clip")

# Every feature segspark can compute, in SPEC order, with the inputs it needs
# beyond the axis's own. Blocks are the modules that compute them together.
KNOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "purchase_frequency": {
        "orders_per_month": (),
        "avg_days_between_orders": (),
        "recent_orders_90d": (),
        "purchase_consistency": (),
    },
    "purchase_value": {"avg_order_value": (), "lifetime_value": (), "value_trend": ()},
    "category_exploration": {"unique_categories": (), "category_switches": (), "new_category_rate": ()},
    "price_sensitivity": {"discount_usage_rate": (), "avg_discount_pct": (), "full_price_ratio": ()},
    "purchase_cadence": {
        "weekend_ratio": (),
        "time_of_day_consistency": ("time_of_day",),
        "seasonal_concentration": (),
    },
    "customer_maturity": {"tenure_months": (), "days_since_last_order": (), "expansion_rate": ("product",)},
    "repurchase_behavior": {"repeat_purchase_rate": (), "same_product_rate": (), "loyalty_index": ()},
    "return_behavior": {"return_rate": (), "return_value_ratio": ()},
    "communication_preference": {
        "primary_channel_share": (),
        "channel_diversity": (),
        "contact_hour_sin": ("time_of_day",),
        "contact_hour_cos": ("time_of_day",),
    },
    "problem_complexity": {"refund_rate": (), "return_frequency": (), "discount_dependency": ("discount",)},
    "loyalty_trajectory": {"order_frequency_trend": (), "recency_ratio": (), "acceleration": ()},
    "product_knowledge": {"product_concentration": (), "repeat_product_rate": (), "expertise_level": ()},
    "value_sophistication": {"price_point_comfort": (), "discount_hunt_score": (), "luxury_rate": ()},
    "support_history": {
        "tickets_per_order": (),
        "satisfaction_avg": ("satisfaction",),
        "escalation_rate": ("escalation",),
    },
}


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
        needs = tuple(raw.get("needs") or ("orders",))
        if bad := [n for n in needs if n not in INPUTS]:
            raise ConfigError(f"{where}: unknown input(s) {bad}; known: {INPUTS}")
        features = raw.get("features") or {}
        if not isinstance(features, Mapping) or not features:
            raise ConfigError(f"{where}: needs at least one feature")
        if bad := [f for f in features if f not in KNOWN[name]]:
            raise ConfigError(f"{where}: unknown feature(s) {bad}; known: {sorted(KNOWN[name])}")
        primary = str(raw.get("primary") or next(iter(features)))
        if primary not in features:
            raise ConfigError(f"{where}: primary {primary!r} is not one of its features")
        out.append(
            AxisSpec(
                name=str(name),
                enabled=bool(raw.get("enabled", True)),
                marketing=bool(raw.get("marketing", False)),
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
