"""Segment names from Claude (SPEC section 6): one request per axis, untrusted reply, cached, safe.

Only aggregates leave the process: the axis and feature names, each segment's
id, size, centre in original units and z-scores, and the population min /
median / max per feature. No customer id, no product text, nothing a customer
typed. The reply is validated; whatever fails validation keeps its
deterministic name (per segment, or for the whole axis when the reply as a
whole cannot be trusted), and the run goes on.

The API key comes from ANTHROPIC_API_KEY (or a Databricks secret); it is handed
to the client and nowhere else: not to SparkConf, a log line, an output or an
exception message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from segspark.model import naming
from segspark.model.manifest import AxisModel, Manifest

if TYPE_CHECKING:
    # Imported where a request is made: the SDK takes over a second to import, which every command (and
    # every run without a key) would otherwise pay.
    import anthropic

log = logging.getLogger(__name__)

NAME = naming.NAME  # the same rule as the deterministic names: snake_case, 2-4 words
MAX_NAME = naming.MAX_LEN
MAX_INTERPRETATION = 240
# A reply mentioning any of these is not a set of names: the whole axis falls back.
SUSPICIOUS = re.compile(r"ignore|instruction|system prompt|assistant|api[_ ]?key|password|https?://|<|>|\{|\}", re.I)
SYSTEM = (
    "You name customer segments for a marketing team. You receive one behavioural axis of a "
    "segmentation model as JSON: its features, the population minimum, median and maximum of each, "
    "and per segment its id, size, centre in original units and centre z-scores. Reply with JSON only, "
    'no prose: {"segments": [{"id": "<segment id>", "name": "<name>", "interpretation": "<sentence>"}]} '
    "with exactly one entry per segment id given. name: snake_case, 2 to 4 words, lowercase letters, "
    "digits and underscores only, at most 40 characters, unique within the axis, describing the behaviour "
    "(e.g. frequent_small_baskets). interpretation: one plain sentence a marketer understands."
)


@dataclass(frozen=True)
class NamingSettings:
    """The `naming` config section."""

    enabled: bool = True
    model: str = "claude-sonnet-5-5"
    timeout_s: float = 30.0
    max_retries: int = 2
    max_tokens: int = 2000
    databricks_secret_scope: str | None = None
    databricks_secret_key: str = "anthropic_api_key"

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> NamingSettings:
        """Read the `naming` section."""
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


def api_key(settings: NamingSettings) -> str | None:
    """The key from ANTHROPIC_API_KEY, else from the configured Databricks secret scope, else None."""
    key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    if key:
        return key
    if settings.databricks_secret_scope:
        try:  # only on Databricks
            from pyspark.dbutils import DBUtils
            from pyspark.sql import SparkSession

            spark = SparkSession.getActiveSession()
            secret = DBUtils(spark).secrets.get(settings.databricks_secret_scope, settings.databricks_secret_key)
            return str(secret).strip() or None
        except Exception:  # any failure means: no key
            log.info("naming: no key in Databricks secret scope %s", settings.databricks_secret_scope)
    return None


def axis_payload(name: str, axis: AxisModel) -> dict[str, Any]:
    """What is sent for one axis: aggregates only."""
    return {
        "axis": name,
        "features": [
            {"name": f, **{s: _number(axis.population.get(f, {}).get(s)) for s in ("min", "median", "max")}}
            for f in axis.features
        ],
        "segments": [
            {
                "id": sid,
                "size": int(size),
                "centre": {f: _number(v) for f, v in zip(axis.features, orig, strict=True)},
                "z_scores": {f: _number(v, 3) for f, v in zip(axis.features, z, strict=True)},
            }
            for sid, size, orig, z in zip(
                axis.segment_ids, axis.sizes, axis.centers_original, axis.centers_scaled, strict=True
            )
        ],
    }


def _number(value: Any, digits: int = 6) -> float | None:
    """A finite rounded number, or None (JSON has no NaN)."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


def cache_key(payload: Mapping[str, Any], model: str) -> str:
    """A digest of exactly what would be sent, and to which model."""
    return hashlib.sha256(json.dumps([model, SYSTEM, payload], sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Parsed:
    """A validated reply: per segment id, (name, interpretation) or the reason it was refused."""

    accepted: dict[str, tuple[str, str]]
    refused: dict[str, str]


def parse_reply(text: str, segment_ids: list[str], taken: set[str]) -> Parsed:
    """Validate a reply; raise ValueError when the axis as a whole must fall back.

    Axis-level: not JSON, not the schema, not exactly one entry per segment id, or
    anything that reads like instructions. Segment-level: a name that is not 2-4
    snake_case words of [a-z0-9] within 40 characters, a name already used on the
    axis (`taken` or an earlier entry), or an interpretation that is not one short sentence.
    """
    body = text.strip()
    if body.startswith("```"):
        body = re.sub(r"^```(?:json)?\s*|\s*```$", "", body)
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        raise ValueError("the reply is not JSON") from None
    if any(SUSPICIOUS.search(v) for v in _strings(data)):
        raise ValueError("the reply contains instruction-like text")
    entries = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("the reply does not have a list of segments")
    ids = [e.get("id") for e in entries]
    if sorted(map(str, ids)) != sorted(segment_ids) or len(ids) != len(segment_ids):
        raise ValueError(f"the reply names {len(ids)} segment(s), expected exactly {len(segment_ids)} given ids")
    accepted: dict[str, tuple[str, str]] = {}
    refused: dict[str, str] = {}
    used = set(taken)
    for e in entries:
        sid, name, text_i = str(e["id"]), e.get("name"), e.get("interpretation")
        if not isinstance(name, str) or len(name) > MAX_NAME or not NAME.match(name):
            refused[sid] = "name is not 2-4 snake_case words of [a-z0-9_] within 40 characters"
        elif name in used:
            refused[sid] = f"name {name!r} is already used on this axis"
        elif (
            not isinstance(text_i, str)
            or not text_i.strip()
            or len(text_i) > MAX_INTERPRETATION
            or "\n" in text_i
            or not text_i.isprintable()
        ):
            refused[sid] = "interpretation is not one short sentence"
        else:
            accepted[sid] = (name, text_i.strip())
            used.add(name)
    return Parsed(accepted, refused)


def _strings(value: Any) -> list[str]:
    """Every string (keys included) inside a parsed JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _reply_text(message: Any) -> str:
    return "".join(getattr(block, "text", "") for block in getattr(message, "content", []))


def _dedupe(axis_name: str, axis: AxisModel, names: list[str], fixed: set[int]) -> list[str]:
    """Keep Claude's names; rename any other segment whose name is taken, from its own centre's traits."""
    keep: list[str | None] = [names[i] if i in fixed else None for i in range(len(names))]
    taken = {n for n in keep if n}
    for i, name in enumerate(names):
        if i not in fixed and name not in taken:
            keep[i] = name
            taken.add(name)
    return naming.unique_names(axis_name, axis.features, np.asarray(axis.centers_scaled), fixed=keep)


def name_axis(
    name: str, axis: AxisModel, client: anthropic.Anthropic | None, settings: NamingSettings, cache: dict[str, Any]
) -> AxisModel:
    """Names for one axis: cached, or asked for (when a client is given), validated; else unchanged."""
    axis = replace(axis, name_sources=_sources(axis))
    pending = [i for i, src in enumerate(_sources(axis)) if src != "claude"]
    if not pending:
        return axis
    payload = axis_payload(name, axis)
    key = cache_key(payload, settings.model)
    entry = cache.get(key)
    if entry is None:
        if client is None:
            return axis
        import anthropic

        try:
            message = client.messages.create(
                model=settings.model,
                max_tokens=settings.max_tokens,
                system=SYSTEM,
                messages=[{"role": "user", "content": json.dumps(payload, sort_keys=True)}],
            )
            taken = {axis.names[i] for i in range(axis.k) if i not in pending}
            parsed = parse_reply(_reply_text(message), list(axis.segment_ids), taken)
        except anthropic.APIStatusError as err:
            log.warning("naming axis %s: API status %s; deterministic names kept", name, err.status_code)
            return axis
        except anthropic.APITimeoutError:
            log.warning("naming axis %s: the request timed out; deterministic names kept", name)
            return axis
        except anthropic.APIError as err:
            log.warning("naming axis %s: API error (%s); deterministic names kept", name, type(err).__name__)
            return axis
        except ValueError as err:
            log.warning("naming axis %s: reply refused (%s); deterministic names kept", name, err)
            return axis
        for sid, reason in parsed.refused.items():
            log.warning("naming axis %s: segment %s keeps its deterministic name (%s)", name, sid, reason)
        entry = {sid: {"name": n, "interpretation": t} for sid, (n, t) in parsed.accepted.items()}
        if entry:
            cache[key] = entry
    names, texts, sources = list(axis.names), list(axis.interpretations), _sources(axis)
    for i in pending:
        got = entry.get(axis.segment_ids[i])
        if got:
            names[i], texts[i], sources[i] = got["name"], got["interpretation"], "claude"
    fixed = {i for i, s in enumerate(sources) if s == "claude"}
    return replace(
        axis,
        names=_dedupe(name, axis, names, fixed),
        interpretations=texts,
        name_sources=sources,
        name_source="claude" if fixed else axis.name_source,
    )


def _sources(axis: AxisModel) -> list[str]:
    return list(axis.name_sources) if len(axis.name_sources) == axis.k else ["deterministic"] * axis.k


def make_client(settings: NamingSettings, http_client: Any = None) -> anthropic.Anthropic | None:
    """A client when naming is enabled and a key is available, else None (and then no request is made)."""
    if not settings.enabled:
        log.info("naming: disabled in configuration; deterministic names kept")
        return None
    key = api_key(settings)
    if not key:
        log.info("naming: no ANTHROPIC_API_KEY; deterministic names kept")
        return None
    import anthropic

    return anthropic.Anthropic(
        api_key=key, timeout=settings.timeout_s, max_retries=settings.max_retries, http_client=http_client
    )


def name_model(
    manifest: Manifest, settings: NamingSettings, cache: dict[str, Any], http_client: Any = None
) -> Manifest:
    """Name every axis of a model (cache first); the manifest is returned updated, `cache` is updated in place."""
    client = None
    needs_call = any(
        any(s != "claude" for s in _sources(ax)) and cache_key(axis_payload(n, ax), settings.model) not in cache
        for n, ax in manifest.axes.items()
    )
    if needs_call:
        client = make_client(settings, http_client)
    axes = {n: name_axis(n, ax, client, settings, cache) for n, ax in manifest.axes.items()}
    return replace(manifest, axes=axes)
