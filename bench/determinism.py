"""Does a `segspark run` depend on anything but its input? (issue 23, determinism)

    .venv/bin/python bench/determinism.py [--source online_retail_ii] [--as-of 2011-12-10] [--out FILE]

Runs the same pinned `segspark run` five times, each in its own process and warehouse:

    base       TZ=UTC, 8 shuffle partitions (the shipped default)
    rerun      the same again
    new_york   TZ=America/New_York (the driver's and the JVM's zone; the session zone stays UTC)
    shuffle1   1 shuffle partition
    shuffle2   2 shuffle partitions

and compares every variant with `base`: the model (version, k, segment ids, names, sizes), the features
snapshot (values bit for bit, then within 1e-9), the profiles (the Parquet files byte for byte, the rows
bit for bit, fingerprints within 1e-9, and the share of customers with the same dominant segment on every
axis), and the drift rows. One backfill date and one baseline keep a run near four minutes on Online Retail II.
Results: bench/out/determinism.json and docs/reliability.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from segspark.model.manifest import load_manifest  # noqa: E402

VARIANTS: dict[str, tuple[str, int]] = {  # name -> (TZ, shuffle partitions)
    "base": ("UTC", 8),
    "rerun": ("UTC", 8),
    "new_york": ("America/New_York", 8),
    "shuffle1": ("UTC", 1),
    "shuffle2": ("UTC", 2),
}


def run(source: str, as_of: str, root: Path, tz: str, partitions: int, log: Path) -> float:
    cmd = [
        sys.executable,
        "-m",
        "segspark.cli",
        "run",
        "--source",
        source,
        "--as-of",
        as_of,
        "--set",
        f"warehouse.root={root}",
        "--set",
        f"spark.shuffle_partitions={partitions}",
        "--set",
        "spark.master=local[2]",
        "--set",
        "history.backfill_offsets=[7]",
        "--set",
        "drift.baselines=[7]",
        "--set",
        "fit.save_mllib=false",
    ]
    env = {**os.environ, "TZ": tz, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    with log.open("w") as out:
        subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env, check=True)
    return time.perf_counter() - started


def _summary(root: Path) -> dict[str, Any]:
    return dict(json.loads(sorted(root.glob("runs/*/summary.json"))[-1].read_text()))


def _partition(root: Path, table: str, day: str) -> pd.DataFrame:
    frame = pd.read_parquet(root / table / f"snapshot_date={day}")
    return frame.sort_values([c for c in ("customer_id", "baseline_date") if c in frame.columns]).reset_index(drop=True)


def _file_digest(root: Path, table: str, day: str) -> str:
    h = hashlib.sha256()
    for f in sorted((root / table / f"snapshot_date={day}").glob("*.parquet")):
        h.update(f.read_bytes())
    return h.hexdigest()


def _dominant(frame: pd.DataFrame) -> pd.Series:
    return frame["dominant_segments"].map(lambda m: tuple(sorted(dict(m).items())))


def _fingerprints(frame: pd.DataFrame) -> np.ndarray:
    return np.vstack(frame["fingerprint"].map(lambda a: np.asarray(a, dtype=float)).to_list())


def _numeric_close(a: pd.DataFrame, b: pd.DataFrame) -> tuple[int, int]:
    """(values bit-identical, values within 1e-9 relative) over the double columns of two aligned frames."""
    cols = [c for c in a.columns if a[c].dtype == float]
    x, y = a[cols].to_numpy(), b[cols].to_numpy()
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    close = np.isclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True)
    return int(same.sum()), int(close.sum())


def compare(base: Path, other: Path) -> dict[str, Any]:
    a, b = _summary(base), _summary(other)
    day = a["as_of"]
    m1, m2 = load_manifest(a["steps"]["fit"]["model"]), load_manifest(b["steps"]["fit"]["model"])
    model = {
        "same_version": m1.model_version == m2.model_version,
        "axes_differing": [
            axis
            for axis, fit in m1.axes.items()
            if axis not in m2.axes
            or (fit.k, fit.segment_ids, fit.names, fit.sizes)
            != (m2.axes[axis].k, m2.axes[axis].segment_ids, m2.axes[axis].names, m2.axes[axis].sizes)
        ],
        "max_centre_difference": max(
            float(np.max(np.abs(np.asarray(fit.centers_scaled) - np.asarray(m2.axes[axis].centers_scaled))))
            for axis, fit in m1.axes.items()
            if axis in m2.axes and fit.k == m2.axes[axis].k
        ),
    }
    f1, f2 = _partition(base, "features", day), _partition(other, "features", day)
    same, close = _numeric_close(f1, f2) if f1["customer_id"].equals(f2["customer_id"]) else (0, 0)
    features = {
        "customers": [len(f1), len(f2)],
        "values": int(f1.select_dtypes(float).size),
        "bit_identical": same,
        "within_1e-9": close,
    }
    p1, p2 = _partition(base, "customer_profiles", day), _partition(other, "customer_profiles", day)
    aligned = p1["customer_id"].equals(p2["customer_id"])
    dominant = (_dominant(p1) == _dominant(p2)) if aligned else pd.Series([False])
    fp1, fp2 = (_fingerprints(p1), _fingerprints(p2)) if aligned else (np.zeros(1), np.ones(1))
    profiles = {
        "customers": [len(p1), len(p2)],
        "files_byte_identical": _file_digest(base, "customer_profiles", day)
        == _file_digest(other, "customer_profiles", day),
        "rows_identical": int(
            sum(
                json.dumps(r1, default=str, sort_keys=True) == json.dumps(r2, default=str, sort_keys=True)
                for r1, r2 in zip(
                    p1.drop(columns=["run_id"], errors="ignore").to_dict("records"),
                    p2.drop(columns=["run_id"], errors="ignore").to_dict("records"),
                    strict=False,
                )
            )
        ),
        "same_dominant_segments": float(dominant.mean()),
        "same_archetype": float((p1["archetype_id"] == p2["archetype_id"]).mean()) if aligned else 0.0,
        "max_fingerprint_difference": float(np.max(np.abs(fp1 - fp2))),
    }
    d1, d2 = _partition(base, "drift", day), _partition(other, "drift", day)
    drift_cols = ["customer_id", "baseline_date", "overall_alert", "migrated", "churn_risk"]
    drift = {
        "rows": [len(d1), len(d2)],
        "same_alerts": float((d1[drift_cols] == d2[drift_cols]).all(axis=1).mean()) if len(d1) == len(d2) else 0.0,
    }
    return {"model": model, "features": features, "profiles": profiles, "drift": drift}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="online_retail_ii")
    parser.add_argument("--as-of", default="2011-12-10")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "determinism.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="segspark-determinism-"))
    seconds = {}
    for name, (tz, partitions) in VARIANTS.items():
        seconds[name] = round(run(args.source, args.as_of, work / name, tz, partitions, work / f"{name}.log"), 1)
        print(f"{name} (TZ={tz}, {partitions} shuffle partitions): {seconds[name]} s", flush=True)
    results = {name: compare(work / "base", work / name) for name in VARIANTS if name != "base"}
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "source": args.source,
        "as_of": args.as_of,
        "seconds": seconds,
        "variants": {n: {"TZ": tz, "shuffle_partitions": p} for n, (tz, p) in VARIANTS.items()},
        "against_base": results,
        "work": str(work),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    for name, r in results.items():
        print(f"{name}: {json.dumps(r)}")
    print(f"details in {args.out}")


if __name__ == "__main__":
    main()
