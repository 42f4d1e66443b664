"""The refit policy's decision, from a model's health (pure)."""

from __future__ import annotations

from segspark.schedule.policy import ModelHealth, RefitPolicy, refit_reasons


def health(
    weeks: float,
    psi: dict[str, float] | None = None,
    fit: dict[str, float] | None = None,
    now: dict[str, float] | None = None,
) -> ModelHealth:
    return ModelHealth("m1", weeks, dict(psi or {}), dict(fit or {}), dict(now or {}))


def test_young_stable_model_is_kept() -> None:
    got = refit_reasons(health(1.0, {"a": 0.01}, {"a": 0.6}, {"a": 0.58}), RefitPolicy(4, 0.25, 0.1))
    assert got == []


def test_each_trigger_fires_on_its_own() -> None:
    policy = RefitPolicy(every_weeks=4, psi=0.25, silhouette_drop=0.1)
    assert refit_reasons(health(4.0), policy) == ["model is 4.0 weeks old (refit_every_weeks=4)"]
    shifted = refit_reasons(health(1.0, {"a": 0.3, "b": 0.2}), policy)
    assert len(shifted) == 1 and shifted[0].startswith("a: PSI 0.300")
    worse = refit_reasons(health(1.0, fit={"a": 0.7, "b": 0.5}, now={"a": 0.55, "b": 0.45}), policy)
    assert len(worse) == 1 and worse[0].startswith("a: silhouette 0.550, down from 0.700")


def test_zero_switches_a_trigger_off() -> None:
    off = RefitPolicy(every_weeks=0, psi=0.0, silhouette_drop=0.0)
    assert refit_reasons(health(52.0, {"a": 9.0}, {"a": 0.9}, {"a": 0.1}), off) == []
