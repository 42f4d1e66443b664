"""Small order exports of general shapes, written as a user would bring them: a CSV file and a mapping file.

Each shape is one thing real exports do that the bundled data sets do not:
a few weeks of history, date-only timestamps, no product ids, a tiny shop, one
customer spending a hundred times everyone else, support tickets. The data
are drawn from a seeded generator (numpy), so every shape is the same on every
machine; the tests assert what segspark must do with the shape, not values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml


@dataclass(frozen=True)
class Shape:
    """What to write: the export's size and its quirks."""

    name: str
    customers: int = 400
    days: int = 400
    end: date = date(2024, 6, 3)
    date_only: bool = False
    products: bool = True
    whale: bool = False
    tickets: bool = False
    seed: int = 5
    extra_mapping: dict[str, Any] = field(default_factory=dict)


SHAPES = {
    "few_weeks": Shape("few_weeks", customers=200, days=35),
    "date_only": Shape("date_only", date_only=True),
    "no_products": Shape("no_products", products=False),
    "tiny": Shape("tiny", customers=30, days=35),  # a new shop: 30 customers, five weeks
    "whale": Shape("whale", customers=300, whale=True),
    "tickets": Shape("tickets", tickets=True),
}


def orders(shape: Shape) -> pd.DataFrame:
    """Order lines: two kinds of customers (frequent small baskets, rare big ones), some returns."""
    rng = np.random.default_rng(shape.seed)
    start = datetime.combine(shape.end, datetime.min.time()) - timedelta(days=shape.days)
    rows = []
    for c in range(shape.customers):
        frequent = c % 2 == 0
        n = int(rng.integers(3, 12) if frequent else rng.integers(1, 4))
        joined = rng.uniform(0, 0.5) * shape.days
        for o in range(n):
            day = joined + rng.uniform(0, 1) * (shape.days - joined)
            hour = int(rng.integers(8, 12) if frequent else rng.integers(17, 23))
            ts = start + timedelta(days=int(day), hours=hour, minutes=int(rng.integers(0, 60)))
            for line in range(int(rng.integers(1, 4))):
                price = round(float(rng.uniform(2, 8) if frequent else rng.uniform(20, 90)), 2)
                if shape.whale and c == 1:
                    price *= 100  # one customer spends a hundred times what the others do
                qty = int(rng.integers(1, 5))
                sku = f"SKU{int(rng.integers(0, 40)):03d}"
                rows.append((f"K{c:05d}", f"INV{c:05d}-{o:03d}", ts, qty, price, sku))
                if rng.uniform() < (0.02 if frequent else 0.15):
                    back = ts + timedelta(days=3)
                    if back < start + timedelta(days=shape.days):
                        rows.append((f"K{c:05d}", f"CINV{c:05d}-{o:03d}-{line}", back, -qty, price, sku))
    df = pd.DataFrame(rows, columns=["cust", "invoice", "ts", "qty", "price", "sku"])
    fmt = "%Y-%m-%d" if shape.date_only else "%Y-%m-%d %H:%M:%S"
    df["ts"] = df["ts"].dt.strftime(fmt)
    return df if shape.products else df.drop(columns=["sku"])


def tickets(shape: Shape, lines: pd.DataFrame) -> pd.DataFrame:
    """Tickets of half the customers: the rare-big-basket kind open more, rate lower and escalate more."""
    rng = np.random.default_rng(shape.seed + 1)
    firsts = lines.groupby("invoice").first().reset_index()
    rows = []
    for _, order in firsts.iterrows():
        troubled = int(order["cust"][1:]) % 2 == 1
        if rng.uniform() < (0.6 if troubled else 0.1):
            opened = pd.Timestamp(order["ts"]) + pd.Timedelta(hours=int(rng.integers(2, 40)))
            resolved = opened + pd.Timedelta(hours=float(rng.uniform(1, 30 if troubled else 4)))
            rows.append(
                {
                    "id": f"TK-{order['invoice']}",
                    "customer": order["cust"],
                    "opened": opened.strftime("%Y-%m-%d %H:%M"),
                    "closed": resolved.strftime("%Y-%m-%d %H:%M"),
                    "via": "phone" if troubled else "chat",
                    "topic": "delivery",
                    "csat": (int(rng.integers(1, 3)) if troubled else int(rng.integers(4, 6)))
                    if rng.uniform() < 0.7
                    else "",
                    "escalated": "yes" if troubled and rng.uniform() < 0.4 else "no",
                }
            )
    return pd.DataFrame(rows)


def write(shape: Shape, where: Path) -> Path:
    """Write the export and its mapping under `where`; return the mapping file."""
    where.mkdir(parents=True, exist_ok=True)
    lines = orders(shape)
    lines.to_csv(where / "orders.csv", index=False)
    columns = {"customer_id": "cust", "order_id": "invoice", "order_ts": "ts", "quantity": "qty", "unit_price": "price"}
    if shape.products:
        columns["product_id"] = "sku"
    mapping: dict[str, Any] = {
        "name": shape.name,
        "source": {"path": str(where / "orders.csv"), "format": "csv"},
        "columns": columns,
        "timestamp": {"format": "yyyy-MM-dd" if shape.date_only else "yyyy-MM-dd HH:mm:ss", "zone": "Europe/Berlin"},
        "returns": {"negative_quantity": True},
    }
    if shape.tickets:
        tickets(shape, lines).to_csv(where / "tickets.csv", index=False)
        mapping["tickets"] = {
            "source": {"path": str(where / "tickets.csv"), "format": "csv"},
            "columns": {
                "ticket_id": "id",
                "customer_id": "customer",
                "created_ts": "opened",
                "resolved_ts": "closed",
                "channel": "via",
                "category": "topic",
                "satisfaction": "csat",
                "escalated": "escalated",
            },
            "timestamp": {"format": "yyyy-MM-dd HH:mm"},
        }
    mapping.update(shape.extra_mapping)
    path = where / f"{shape.name}.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path
