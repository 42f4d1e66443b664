"""Source mapping files (plain YAML, docs/mapping.md): how a user's order export becomes canonical order
lines. Everything about a source that would otherwise need code lives here: column names, timestamp
format and zone, how returns are marked, which lines are not products, the duplicate policy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from segspark.config import shipped_file
from segspark.exc import MappingError
from segspark.schema import CANONICAL_TYPES, REQUIRED_COLUMNS, TICKET_REQUIRED, TICKET_TYPES

FORMATS = ("parquet", "csv", "delta", "json")
_TOP = ("name", "description", "source", "columns", "timestamp", "returns", "duplicates", "lookups", "tickets")
TOP_KEYS = frozenset((*_TOP, "exclude_products", "exclude_product_patterns"))
# Reason codes users may give excluded products; they land in rejects as out-of-scope.
REASON_RE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


@dataclass(frozen=True)
class ColumnSpec:
    """Where one canonical column comes from: a source column or a SQL expression."""

    column: str | None = None
    expr: str | None = None


@dataclass(frozen=True)
class Lookup:
    """A side table joined on a canonical key to fill more canonical columns."""

    path: str
    format: str
    key: str
    lookup_key: str
    columns: Mapping[str, str]


@dataclass(frozen=True)
class FileSource:
    """A file (or directory) read through a mapping: where it is and how its columns become canonical ones."""

    name: str
    path: str
    format: str
    options: Mapping[str, str]
    columns: Mapping[str, ColumnSpec]
    timestamp_format: str | None
    zone: str
    epoch_unit: str | None

    def source_columns(self) -> list[str]:
        """The source columns the mapping reads by name (each must exist in the file)."""
        return [s.column for s in self.columns.values() if s.column]


@dataclass(frozen=True)
class TicketsMapping(FileSource):
    """Where a source's support tickets come from (SPEC section 2): a file of its own, mapped like the orders."""

    escalated_values: tuple[str, ...] = ()

    def has(self, canonical: str) -> bool:
        """True when the mapping fills this canonical ticket column."""
        return canonical in self.columns


@dataclass(frozen=True)
class SourceMapping(FileSource):
    """A validated mapping file: the orders, and optionally the tickets."""

    returns_negative_quantity: bool
    returns_order_id_prefix: str | None
    returns_flag_column: str | None
    returns_flag_values: tuple[str, ...]
    exclude_products: Mapping[str, tuple[str, ...]]
    exclude_product_patterns: Mapping[str, tuple[str, ...]]
    duplicates: str
    lookups: tuple[Lookup, ...] = field(default_factory=tuple)
    origin: str = ""
    # True: the timestamps carry no time of day (a date-only export); False: they do; None: detect it
    # (every line at local midnight means date-only).
    date_only: bool | None = None
    tickets: TicketsMapping | None = None

    def has(self, canonical: str) -> bool:
        """True when the mapping fills this canonical column (directly or by lookup)."""
        return canonical in self.columns or any(canonical in lk.columns for lk in self.lookups)

    def source_columns(self) -> list[str]:
        """The source columns read by name, the returns flag included."""
        flag = [self.returns_flag_column] if self.returns_flag_column else []
        return [*super().source_columns(), *flag]


def _err(origin: str, message: str) -> MappingError:
    return MappingError(f"mapping {origin}: {message}")


def _column_spec(origin: str, canonical: str, raw: Any) -> ColumnSpec:
    if isinstance(raw, str) and raw:
        return ColumnSpec(column=raw)
    if isinstance(raw, Mapping) and set(raw) == {"expr"} and isinstance(raw["expr"], str):
        return ColumnSpec(expr=raw["expr"])
    if isinstance(raw, Mapping) and set(raw) == {"column"} and isinstance(raw["column"], str):
        return ColumnSpec(column=raw["column"])
    raise _err(origin, f"columns.{canonical} must be a source column name or {{expr: <Spark SQL>}}")


def _str_lists(origin: str, key: str, raw: Any) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _err(origin, f"{key} must map a reason code to a list of values")
    out: dict[str, tuple[str, ...]] = {}
    for reason, values in raw.items():
        if not isinstance(reason, str) or not REASON_RE.match(reason):
            raise _err(origin, f"{key}: reason code {reason!r} must be snake_case (3-40 chars)")
        if not isinstance(values, list) or not all(isinstance(v, (str, int)) for v in values):
            raise _err(origin, f"{key}.{reason} must be a list of strings")
        out[reason] = tuple(str(v) for v in values)
    return out


def parse_mapping(data: Mapping[str, Any], origin: str) -> SourceMapping:
    """Validate a mapping document and return it as a SourceMapping."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _err(origin, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")
    source = data.get("source") or {}
    if not isinstance(source, Mapping) or not source.get("path"):
        raise _err(origin, "source.path is required")
    fmt = str(source.get("format", "parquet")).lower()
    if fmt not in FORMATS:
        raise _err(origin, f"source.format must be one of {FORMATS}, got {fmt!r}")
    raw_cols = data.get("columns") or {}
    if not isinstance(raw_cols, Mapping):
        raise _err(origin, "columns must map canonical column -> source column")
    bad = set(raw_cols) - set(CANONICAL_TYPES)
    if bad:
        raise _err(origin, f"columns: unknown canonical column(s) {sorted(bad)}; known: {sorted(CANONICAL_TYPES)}")
    columns = {c: _column_spec(origin, c, v) for c, v in raw_cols.items()}
    lookups = tuple(_lookup(origin, i, lk) for i, lk in enumerate(data.get("lookups") or []))
    filled = set(columns) | {c for lk in lookups for c in lk.columns}
    missing = [c for c in REQUIRED_COLUMNS if c not in filled]
    if "unit_price" in missing and "line_amount" in filled:
        missing.remove("unit_price")  # derived as line_amount / quantity
    if missing:
        raise _err(origin, f"required canonical column(s) not mapped: {missing}")
    ts = data.get("timestamp") or {}
    if not isinstance(ts, Mapping):
        raise _err(origin, "timestamp must be a mapping (format, zone, epoch_unit, date_only)")
    zone = str(ts.get("zone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(origin, f"timestamp.zone {zone!r} is not an IANA time zone") from None
    unknown_ts = set(ts) - {"format", "zone", "epoch_unit", "date_only"}
    if unknown_ts:
        allowed = "date_only, epoch_unit, format, zone"
        raise _err(origin, f"unknown timestamp key(s) {sorted(unknown_ts)}; allowed: {allowed}")
    date_only = ts.get("date_only")
    if date_only is not None and not isinstance(date_only, bool):
        raise _err(origin, "timestamp.date_only must be true, false or null (null: detect it)")
    epoch_unit = ts.get("epoch_unit")
    if epoch_unit is not None and epoch_unit not in ("s", "ms", "us", "ns"):
        raise _err(origin, "timestamp.epoch_unit must be one of s, ms, us, ns")
    returns = data.get("returns") or {}
    if not isinstance(returns, dict):
        raise _err(origin, "returns must be a mapping (negative_quantity, order_id_prefix, flag_column, flag_values)")
    unknown_returns = set(returns) - {"negative_quantity", "order_id_prefix", "flag_column", "flag_values"}
    if unknown_returns:
        allowed = "flag_column, flag_values, negative_quantity, order_id_prefix"
        raise _err(origin, f"unknown returns key(s) {sorted(unknown_returns)}; allowed: {allowed}")
    dup = str(data.get("duplicates", "keep"))
    if dup not in ("keep", "drop"):
        raise _err(origin, "duplicates must be 'keep' or 'drop'")
    patterns = _str_lists(origin, "exclude_product_patterns", data.get("exclude_product_patterns"))
    for reason, pats in patterns.items():
        for pat in pats:
            try:
                re.compile(pat)
            except re.error as err:
                raise _err(origin, f"exclude_product_patterns.{reason}: bad regex {pat!r}: {err}") from None
    return SourceMapping(
        name=str(data.get("name") or Path(origin).stem),
        path=str(source["path"]),
        format=fmt,
        options={str(k): str(v) for k, v in (source.get("options") or {}).items()},
        columns=columns,
        timestamp_format=ts.get("format"),
        zone=zone,
        epoch_unit=epoch_unit,
        returns_negative_quantity=bool(returns.get("negative_quantity", True)),
        returns_order_id_prefix=returns.get("order_id_prefix"),
        returns_flag_column=returns.get("flag_column"),
        returns_flag_values=tuple(str(v) for v in returns.get("flag_values") or ()),
        exclude_products=_str_lists(origin, "exclude_products", data.get("exclude_products")),
        exclude_product_patterns=patterns,
        duplicates=dup,
        lookups=lookups,
        origin=origin,
        date_only=date_only,
        tickets=_tickets(origin, data.get("tickets"), str(data.get("name") or Path(origin).stem), ts),
    )


def _tickets(origin: str, raw: Any, name: str, orders_ts: Mapping[str, Any]) -> TicketsMapping | None:
    """The optional `tickets:` section; its timestamp settings default to the orders'."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _err(origin, "tickets must be a mapping with source, columns and optionally timestamp")
    unknown = set(raw) - {"source", "columns", "timestamp", "escalated_values"}
    if unknown:
        raise _err(
            origin, f"tickets: unknown key(s) {sorted(unknown)}; allowed: columns, escalated_values, source, timestamp"
        )
    source = raw.get("source") or {}
    if not isinstance(source, Mapping) or not source.get("path"):
        raise _err(origin, "tickets.source.path is required")
    fmt = str(source.get("format", "parquet")).lower()
    if fmt not in FORMATS:
        raise _err(origin, f"tickets.source.format must be one of {FORMATS}, got {fmt!r}")
    cols = raw.get("columns") or {}
    if not isinstance(cols, Mapping):
        raise _err(origin, "tickets.columns must map canonical ticket column -> source column")
    if bad := set(cols) - set(TICKET_TYPES):
        raise _err(origin, f"tickets.columns: unknown column(s) {sorted(bad)}; known: {sorted(TICKET_TYPES)}")
    if missing := [c for c in TICKET_REQUIRED if c not in cols]:
        raise _err(origin, f"tickets: required column(s) not mapped: {missing}")
    columns = {c: _column_spec(origin, f"tickets.{c}", v) for c, v in cols.items()}
    ts = raw.get("timestamp") or {}
    if not isinstance(ts, Mapping) or set(ts) - {"format", "zone", "epoch_unit"}:
        raise _err(origin, "tickets.timestamp may set format, zone and epoch_unit (defaults: the orders')")
    zone = str(ts.get("zone") or orders_ts.get("zone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(origin, f"tickets.timestamp.zone {zone!r} is not an IANA time zone") from None
    epoch_unit = ts.get("epoch_unit", orders_ts.get("epoch_unit"))
    if epoch_unit is not None and epoch_unit not in ("s", "ms", "us", "ns"):
        raise _err(origin, "tickets.timestamp.epoch_unit must be one of s, ms, us, ns")
    values = raw.get("escalated_values") or ["true", "1", "yes", "y", "t"]
    if not isinstance(values, list) or not all(isinstance(v, (str, int, bool)) for v in values):
        raise _err(origin, "tickets.escalated_values must be a list of the values that mean escalated")
    return TicketsMapping(
        name=name,
        path=str(source["path"]),
        format=fmt,
        options={str(k): str(v) for k, v in (source.get("options") or {}).items()},
        columns=columns,
        timestamp_format=ts.get("format", orders_ts.get("format")),
        zone=zone,
        epoch_unit=epoch_unit,
        escalated_values=tuple(str(v).lower() for v in values),
    )


def _lookup(origin: str, i: int, raw: Any) -> Lookup:
    if not isinstance(raw, Mapping):
        raise _err(origin, f"lookups[{i}] must be a mapping")
    if missing := [key for key in ("path", "key", "columns") if key not in raw]:
        raise _err(origin, f"lookups[{i}].{missing[0]} is required")
    cols = raw["columns"]
    if not isinstance(cols, Mapping) or not set(cols) <= set(CANONICAL_TYPES):
        raise _err(origin, f"lookups[{i}].columns must map canonical columns to lookup columns")
    return Lookup(
        path=str(raw["path"]),
        format=str(raw.get("format", "parquet")),
        key=str(raw["key"]),
        lookup_key=str(raw.get("lookup_key", raw["key"])),
        columns={str(k): str(v) for k, v in cols.items()},
    )


def load_mapping(name_or_path: str) -> SourceMapping:
    """Load a mapping by shipped preset name (`online_retail_ii`) or by file path."""
    path: Path | Traversable = Path(name_or_path)
    if not Path(name_or_path).suffix:
        path = shipped_file(f"sources/{name_or_path}.yaml")
    if not path.is_file():
        raise MappingError(f"mapping file {name_or_path!r} not found (tried {path})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise MappingError(f"mapping {path} is not valid YAML: {err}") from None
    if not isinstance(data, Mapping):
        raise MappingError(f"mapping {path}: top level must be a mapping")
    return parse_mapping(data, str(path))
