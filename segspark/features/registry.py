"""Every feature segspark computes, declared once: its axis, the block that computes it, the inputs it needs
beyond its axis's, and its default transform before scaling (SPEC section 3 and Appendix A; definitions in
docs/features.md). conf/axes.yaml selects from this registry; the blocks' column lists derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Inputs a source may or may not carry. time_of_day: the timestamps carry a time of day (not a date-only
# export, where every line sits at midnight). satisfaction, escalation: the tickets carry those columns.
_ORDER_INPUTS = ("orders", "category", "discount", "returns", "product", "channel", "time_of_day")
INPUTS = (*_ORDER_INPUTS, "tickets", "satisfaction", "escalation")
TRANSFORMS = ("none", "log1p", "signed_log1p", "clip")


@dataclass(frozen=True)
class Axis:
    """An axis's facts: the inputs it needs, whether it joins the archetype by default, its ranking feature."""

    needs: tuple[str, ...]
    marketing: bool
    primary: str


@dataclass(frozen=True)
class Feature:
    """One feature: `block` computes it (features.engine.BLOCKS); `needs` are inputs beyond its axis's."""

    axis: str
    name: str
    block: str
    transform: str = "none"
    clip: tuple[float, float] | None = None
    needs: tuple[str, ...] = ()

    @property
    def column(self) -> str:
        """Its column in the features table."""
        return f"{self.axis}__{self.name}"


# In SPEC order: the order of axes, columns, fingerprints and reports.
AXES: dict[str, Axis] = {
    "purchase_frequency": Axis(("orders",), True, "orders_per_month"),
    "purchase_value": Axis(("orders",), True, "avg_order_value"),
    "category_exploration": Axis(("orders", "category"), True, "unique_categories"),
    "price_sensitivity": Axis(("orders", "discount"), True, "discount_usage_rate"),
    "purchase_cadence": Axis(("orders",), True, "weekend_ratio"),
    "customer_maturity": Axis(("orders",), True, "tenure_months"),
    "repurchase_behavior": Axis(("orders", "product"), True, "repeat_purchase_rate"),
    "return_behavior": Axis(("orders", "returns"), True, "return_rate"),
    "communication_preference": Axis(("orders", "channel"), False, "channel_diversity"),
    "problem_complexity": Axis(("orders", "returns"), False, "refund_rate"),
    "loyalty_trajectory": Axis(("orders",), False, "order_frequency_trend"),
    "product_knowledge": Axis(("orders", "product"), False, "expertise_level"),
    "value_sophistication": Axis(("orders", "product"), False, "price_point_comfort"),
    "support_history": Axis(("orders", "tickets"), False, "tickets_per_order"),
}

FEATURES: tuple[Feature, ...] = (
    Feature("purchase_frequency", "orders_per_month", "orders", "log1p"),
    Feature("purchase_frequency", "avg_days_between_orders", "orders", "log1p"),
    Feature("purchase_frequency", "recent_orders_90d", "orders", "log1p"),
    Feature("purchase_frequency", "purchase_consistency", "orders"),
    Feature("purchase_value", "avg_order_value", "orders", "log1p"),
    Feature("purchase_value", "lifetime_value", "lines", "signed_log1p"),
    Feature("purchase_value", "value_trend", "orders", "clip", clip=(0.01, 0.99)),
    Feature("category_exploration", "unique_categories", "categories", "log1p"),
    Feature("category_exploration", "category_switches", "categories"),
    Feature("category_exploration", "new_category_rate", "categories"),
    Feature("price_sensitivity", "discount_usage_rate", "orders"),
    Feature("price_sensitivity", "avg_discount_pct", "lines"),
    Feature("price_sensitivity", "full_price_ratio", "lines"),
    Feature("purchase_cadence", "weekend_ratio", "orders"),
    Feature("purchase_cadence", "time_of_day_consistency", "orders", needs=("time_of_day",)),
    Feature("purchase_cadence", "seasonal_concentration", "seasonal"),
    Feature("customer_maturity", "tenure_months", "orders", "log1p"),
    Feature("customer_maturity", "days_since_last_order", "orders", "log1p"),
    Feature("customer_maturity", "expansion_rate", "products", needs=("product",)),
    Feature("repurchase_behavior", "repeat_purchase_rate", "products"),
    Feature("repurchase_behavior", "same_product_rate", "products"),
    Feature("repurchase_behavior", "loyalty_index", "orders"),
    Feature("return_behavior", "return_rate", "lines", "clip", clip=(0.0, 0.98)),
    Feature("return_behavior", "return_value_ratio", "lines", "clip", clip=(0.0, 0.98)),
    Feature("communication_preference", "primary_channel_share", "channels"),
    Feature("communication_preference", "channel_diversity", "channels"),
    Feature("communication_preference", "contact_hour_sin", "channels", needs=("time_of_day",)),
    Feature("communication_preference", "contact_hour_cos", "channels", needs=("time_of_day",)),
    Feature("problem_complexity", "refund_rate", "lines"),
    Feature("problem_complexity", "return_frequency", "lines", "log1p"),
    Feature("problem_complexity", "discount_dependency", "lines", needs=("discount",)),
    Feature("loyalty_trajectory", "order_frequency_trend", "orders"),
    Feature("loyalty_trajectory", "recency_ratio", "orders"),
    Feature("loyalty_trajectory", "acceleration", "orders"),
    Feature("product_knowledge", "product_concentration", "products"),
    Feature("product_knowledge", "repeat_product_rate", "products"),
    Feature("product_knowledge", "expertise_level", "products", "log1p"),
    Feature("value_sophistication", "price_point_comfort", "prices"),
    Feature("value_sophistication", "discount_hunt_score", "products"),
    Feature("value_sophistication", "luxury_rate", "prices"),
    Feature("support_history", "tickets_per_order", "support", "log1p"),
    Feature("support_history", "satisfaction_avg", "support", needs=("satisfaction",)),
    Feature("support_history", "escalation_rate", "support", needs=("escalation",)),
)

BY_AXIS: dict[str, dict[str, Feature]] = {a: {f.name: f for f in FEATURES if f.axis == a} for a in AXES}


def block_columns(block: str) -> tuple[str, ...]:
    """The feature columns `block` computes, in registry order."""
    return tuple(f.column for f in FEATURES if f.block == block)
