"""Deterministic segment names and interpretations from centre z-scores (the fallback namer).

A name is built from the segment's strongest standardised deviations, each
said in a marketer's words from a small vocabulary per feature (`frequent_buyers`,
`big_baskets`, `lapsed`): one trait, or two when one is not enough to tell the
segment from its neighbours. Every name is 2-4 snake_case words (SPEC section 6)
and unique within its axis, with no tier or number suffix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np

TYPICAL_Z = 0.5  # |z| below this is "about average"
MAX_LEN = 40
NAME = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+){1,3}$")  # snake_case, 2-4 words

# feature -> (said of a high value, said of a low value); each 1-2 words. A trait said in one word
# ("lapsed") needs a second trait or a noun to make a name of at least two words.
VOCABULARY: dict[str, tuple[str, str]] = {
    "orders_per_month": ("frequent_buyers", "infrequent_buyers"),
    "avg_days_between_orders": ("long_gaps", "short_gaps"),
    "recent_orders_90d": ("recently_active", "recently_quiet"),
    "purchase_consistency": ("regular_rhythm", "irregular_rhythm"),
    "avg_order_value": ("big_baskets", "small_baskets"),
    "lifetime_value": ("high_spenders", "low_spenders"),
    "value_trend": ("growing_spend", "shrinking_spend"),
    "unique_categories": ("broad_range", "narrow_range"),
    "category_switches": ("category_hoppers", "category_loyal"),
    "new_category_rate": ("category_explorers", "settled_tastes"),
    "discount_usage_rate": ("deal_seekers", "deal_indifferent"),
    "avg_discount_pct": ("deep_discounts", "shallow_discounts"),
    "full_price_ratio": ("full_price", "mostly_discounted"),
    "weekend_ratio": ("weekend_shoppers", "weekday_shoppers"),
    "time_of_day_consistency": ("fixed_hours", "any_hour"),
    "seasonal_concentration": ("seasonal_shoppers", "year_round"),
    "tenure_months": ("long_standing", "new_customers"),
    "days_since_last_order": ("lapsed", "recent_buyers"),
    "expansion_rate": ("widening_range", "narrowing_range"),
    "repeat_purchase_rate": ("repeat_buyers", "one_off_buyers"),
    "same_product_rate": ("product_rebuyers", "novelty_seekers"),
    "loyalty_index": ("monthly_regulars", "sporadic_months"),
    "return_rate": ("serial_returners", "rare_returners"),
    "return_value_ratio": ("costly_returns", "small_returns"),
    "primary_channel_share": ("single_channel", "channel_mixers"),
    "channel_diversity": ("omnichannel", "one_channel"),
    "contact_hour_sin": ("daytime_contact", "night_contact"),
    "contact_hour_cos": ("morning_contact", "evening_contact"),
    "refund_rate": ("frequent_refunds", "rare_refunds"),
    "return_frequency": ("regular_returners", "occasional_returners"),
    "discount_dependency": ("discount_dependent", "discount_free"),
    "order_frequency_trend": ("speeding_up", "slowing_down"),
    "recency_ratio": ("overdue", "on_schedule"),
    "acceleration": ("slowing_pace", "quickening_pace"),
    "product_concentration": ("few_favourites", "varied_products"),
    "repeat_product_rate": ("staple_buyers", "one_time_picks"),
    "expertise_level": ("wide_catalogue", "few_products"),
    "price_point_comfort": ("premium_buyers", "budget_buyers"),
    "discount_hunt_score": ("bargain_hunters", "price_insensitive"),
    "luxury_rate": ("luxury_lovers", "no_luxury"),
    "tickets_per_order": ("frequent_contacts", "rare_contacts"),
    "satisfaction_avg": ("satisfied_customers", "unhappy_customers"),
    "escalation_rate": ("frequent_escalations", "smooth_support"),
}
# The noun a one-word trait takes when it stands alone (`lapsed_customers`).
NOUN = "customers"
INTENSITY = ("very", "mildly")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def trait(feature: str, z: float) -> str:
    """A feature's deviation in words; a feature missing from the vocabulary says high_/low_ and its name."""
    high, low = VOCABULARY.get(feature, (f"high_{feature}", f"low_{feature}"))
    return _slug(high if z > 0 else low)


def _words(name: str) -> int:
    return len(name.split("_"))


def _valid(name: str) -> bool:
    return len(name) <= MAX_LEN and NAME.match(name) is not None


def candidates(axis: str, features: Sequence[str], z: Sequence[float]) -> Iterator[str]:
    """Names for one centre, best first: its strongest trait, then two traits, then intensities.

    Every candidate is 2-4 snake_case words within 40 characters. A centre close
    to the population on every feature starts with `typical_<axis>`.
    """
    row = np.asarray(z, dtype=float)
    order = [int(i) for i in np.argsort(-np.abs(row), kind="stable")]
    traits = [trait(features[i], row[i]) for i in order]
    strong = [t for i, t in zip(order, traits, strict=True) if abs(row[i]) >= TYPICAL_Z]
    axis_words = _slug(axis).split("_")
    if not strong:
        yield "_".join(["typical", *axis_words[:3]])
    singles = [t if _words(t) >= 2 else f"{t}_{NOUN}" for t in traits]
    pairs = [f"{a}_{b}" for i, a in enumerate(traits) for b in traits[i + 1 :]]
    pairs = [p for p in pairs if _words(p) <= 4]
    # The strongest trait; then it with the next; then the strongest said more or less strongly; then
    # every other single and pair; last, the typical name qualified by the strongest trait.
    intensity = INTENSITY[0] if abs(row[order[0]]) >= 1.5 else INTENSITY[1]
    # A second trait is worth naming only when it is itself a deviation; else the intensity says more.
    second = pairs[:1] if len(strong) >= 2 else []
    ordered = [singles[0], *second, f"{intensity}_{singles[0]}", *pairs[:1], *singles[1:], *pairs[1:]]
    ordered += [f"{INTENSITY[0]}_{s}" for s in singles] + [f"{INTENSITY[1]}_{s}" for s in singles]
    for name in ordered:
        if _valid(name):
            yield name


def unique_names(
    axis: str, features: Sequence[str], z: np.ndarray, *, fixed: Sequence[str | None] | None = None
) -> list[str]:
    """One unique name per centre. `fixed[i]`, when given, is kept (a name from a previous model or Claude).

    Centres are named strongest first (largest |z|), so a distinctive segment
    gets the plain name and a weaker one with the same leading trait gets a
    second trait or an intensity word.
    """
    rows = np.asarray(z, dtype=float)
    names: list[str | None] = list(fixed) if fixed is not None else [None] * len(rows)
    taken = {n for n in names if n}
    strength = np.abs(rows).max(axis=1) if rows.size else np.zeros(len(rows))
    for i in sorted(range(len(rows)), key=lambda j: (-strength[j], j)):
        if names[i]:
            continue
        name = next((c for c in candidates(axis, features, rows[i]) if c not in taken), None)
        if name is None:
            # Four or more centres that no two traits tell apart: cannot happen with distinct centres and
            # two or more features; a one-feature axis runs out after its two words and intensities.
            base = next(candidates(axis, features, rows[i]))
            ordinal = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
            name = next(
                f"{base}_{w}" if _words(base) < 4 else f"{w}_{NOUN}"
                for w in ordinal
                if f"{base}_{w}" not in taken and f"{w}_{NOUN}" not in taken
            )
        names[i] = name
        taken.add(name)
    return [str(n) for n in names]


def deterministic_names(axis: str, features: Sequence[str], z: np.ndarray) -> list[str]:
    """One unique 2-4 word snake_case name per segment from its strongest standardised deviations."""
    return unique_names(axis, features, z)


def interpretation(features: Sequence[str], centre: Sequence[float], medians: Sequence[float]) -> str:
    """One sentence comparing a centre with the population medians, most distinctive first."""
    ratios = []
    for f, c, m in zip(features, centre, medians, strict=True):
        rel = "above" if c > m else "below" if c < m else "at"
        ratios.append(f"{f.replace('_', ' ')} {c:.3g} ({rel} the median {m:.3g})")
    return "Customers with " + "; ".join(ratios) + "."
