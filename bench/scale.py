"""segspark against the single-process reference from 1M to 50M generated lines (issue 24).

    python bench/scale.py [--sizes 1M,5M,20M,50M] [--reference-timeout 3600] [--reference-memory 20]

For each size: `segspark generate` (customers grow with lines, one per ~59 lines
as in the 1.18M-line / 20k-customer shop), then in separate processes, one
after the other, `segspark run` on local[2] (the shipped `synthetic` mapping
pointed at the generated files) and `bench/reference.py` on the same files.
Each process tree is sampled every 0.25 s for its resident memory (the driver
JVM, its Python workers, the reference process). The reference is stopped when
it passes the time limit or the memory limit, and that is recorded as its
outcome. Results go to bench/out/scale/results.json (one entry per size and
system, merged with earlier runs) and the plot to docs/scale.png.

`--master local-cluster[2,1,4096]` runs segspark on separate executor JVMs
instead (the reference is skipped, `--compare-with` names a warehouse of a
local[2] run of the same size whose tables must be identical).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "scale"
LINES_PER_CUSTOMER = 59
ORII_LINES, ORII_AS_OF = 1_044_847, "2011-12-10"  # Online Retail II's rows, and the day after its last line
END = "2024-06-01"


@dataclass
class Measured:
    system: str
    lines: int
    outcome: str  # finished | failed | out of memory | time limit
    seconds: float
    peak_rss_gib: float
    peak_driver_gib: float  # segspark: the driver JVM alone; reference: the process
    steps: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    commit: str = field(default_factory=lambda: _commit())


def _commit() -> str:
    """The checkout's commit, so a recorded figure says which code made it."""
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def _tree(pid: int) -> list[int]:
    """pid and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _rss(pid: int) -> tuple[int, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        return 0, ""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024, comm
    return 0, comm


def watch(
    cmd: list[str], *, timeout: float, memory_limit: float | None, log: Path, env: dict | None = None
) -> tuple[str, float, float, float]:
    """Run cmd; return (outcome, seconds, peak tree RSS GiB, peak java RSS GiB), stopping it at the limits."""
    peak = [0, 0]
    stop = threading.Event()
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True)
        outcome = ["finished"]

        def sample() -> None:
            while not stop.is_set():
                total = java = 0
                for p in _tree(proc.pid):
                    rss, comm = _rss(p)
                    total += rss
                    java += rss if comm == "java" else 0
                peak[0], peak[1] = max(peak[0], total), max(peak[1], java)
                if memory_limit is not None and total > memory_limit * 2**30:
                    outcome[0] = "out of memory"
                    os.killpg(proc.pid, 9)
                if time.perf_counter() - started > timeout:
                    outcome[0] = "time limit"
                    os.killpg(proc.pid, 9)
                stop.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        stop.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if outcome[0] == "finished" and code != 0:
        outcome[0] = "failed"
    return outcome[0], seconds, peak[0] / 2**30, peak[1] / 2**30


def generate(lines: int, where: Path, per_customer: int = LINES_PER_CUSTOMER) -> Path:
    """Generated orders and tickets of about `lines` lines (one customer per `per_customer` lines), and a
    mapping file pointing at them."""
    mapping = where / "mapping.yaml"
    if not (where / "orders").is_dir():
        customers = max(100, lines // per_customer)
        cmd = [
            sys.executable,
            "-m",
            "segspark.cli",
            "generate",
            "--lines",
            str(lines),
            "--customers",
            str(customers),
            "--end",
            END,
            "--days",
            "730",
            "--out",
            str(where),
            "--set",
            "spark.master=local[2]",
            "--set",
            "spark.driver_memory=8g",
        ]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        took = time.perf_counter() - started
        print(f"generated {lines:,} lines, {customers:,} customers in {took:.0f} s", flush=True)
    spec = yaml.safe_load((ROOT / "segspark" / "conf" / "sources" / "synthetic.yaml").read_text())
    spec["source"]["path"] = str(where / "orders")
    spec["tickets"]["source"]["path"] = str(where / "tickets")
    mapping.write_text(yaml.safe_dump(spec, sort_keys=False))
    return mapping


def run_segspark(
    lines: int, mapping: Path, where: Path, master: str, timeout: float, driver_memory: str, as_of: str = END
) -> Measured:
    root = where / f"wh-{master.replace('[', '-').replace(']', '').replace(',', '-')}"
    subprocess.run(["rm", "-rf", str(root)], check=True)
    cmd = [
        sys.executable,
        "-m",
        "segspark.cli",
        "run",
        "--source",
        str(mapping),
        "--as-of",
        as_of,
        "--set",
        f"warehouse.root={root}",
        "--set",
        f"spark.master={master}",
        "--set",
        f"spark.driver_memory={driver_memory}",
    ]
    # This checkout's segspark, in the driver and in the Python workers, whatever the venv has installed.
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    outcome, seconds, peak, java = watch(
        cmd, timeout=timeout, memory_limit=None, log=where / f"segspark-{master}.log", env=env
    )
    steps: dict[str, float] = {}
    runs = sorted((root / "runs").glob("*/summary.json"))
    if runs:
        summary = json.loads(runs[-1].read_text())
        steps = {k: round(float(v["seconds"]), 1) for k, v in summary["steps"].items() if "@" not in k}
    return Measured(
        f"segspark {master}", lines, outcome, round(seconds, 1), round(peak, 2), round(java, 2), steps, str(root)
    )


def run_reference(lines: int, mapping: Path, where: Path, timeout: float, memory: float, as_of: str = END) -> Measured:
    result = where / "reference.json"
    result.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "reference.py"),
        "--source",
        str(mapping),
        "--as-of",
        as_of,
        "--json",
        str(result),
    ]
    outcome, seconds, peak, _ = watch(cmd, timeout=timeout, memory_limit=memory, log=where / "reference.log")
    steps = json.loads(result.read_text())["seconds"] if result.exists() else {}
    limit = {"out of memory": f"stopped above {memory:g} GiB", "time limit": f"stopped after {timeout:g} s"}
    return Measured(
        "reference",
        lines,
        outcome,
        round(seconds, 1),
        round(peak, 2),
        round(peak, 2),
        {k: round(v, 1) for k, v in steps.items()},
        limit.get(outcome, ""),
    )


def merge(results: list[Measured]) -> list[dict]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "results.json"
    old = json.loads(path.read_text()) if path.exists() else []
    new = {(r.system, r.lines): asdict(r) for r in results}
    kept = [r for r in old if (r["system"], r["lines"]) not in new]
    merged = sorted(kept + list(new.values()), key=lambda r: (r["lines"], r["system"]))
    path.write_text(json.dumps(merged, indent=1))
    return merged


def plot(rows: list[dict], to: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4))
    generated = [r for r in rows if r["lines"] != ORII_LINES]
    for system in sorted({r["system"] for r in rows if "per customer" not in r["system"]}):
        done = [r for r in generated if r["system"] == system and r["outcome"] == "finished"]
        stopped = [r for r in generated if r["system"] == system and r["outcome"] != "finished"]
        orii = [r for r in rows if r["system"] == system and r["lines"] == ORII_LINES and r["outcome"] == "finished"]
        for ax, key in ((ax_t, "seconds"), (ax_m, "peak_rss_gib")):
            line = ax.plot([r["lines"] / 1e6 for r in done], [r[key] for r in done], marker="o", label=system)
            colour = line[0].get_color()
            if stopped:
                ax.scatter(
                    [r["lines"] / 1e6 for r in stopped],
                    [r[key] for r in stopped],
                    marker="x",
                    s=80,
                    color=colour,
                    label=f"{system}: stopped",
                )
            if orii:
                ax.scatter(
                    [r["lines"] / 1e6 for r in orii],
                    [r[key] for r in orii],
                    marker="*",
                    s=120,
                    color=colour,
                    label=f"{system}: Online Retail II",
                )
    ax_t.set(
        xscale="log",
        yscale="log",
        xlabel="order lines (millions; generated shops, ~59 per customer)",
        ylabel="wall time (s)",
        title="Whole pipeline, process wall clock",
    )
    ax_m.set(
        xscale="log",
        xlabel="order lines (millions)",
        ylabel="peak resident memory (GiB)",
        title="Peak memory of the process tree",
    )
    for ax in (ax_t, ax_m):
        ax.set_xticks([t for t in (1, 2, 5, 10, 20, 50) if t <= 1.05 * max(r["lines"] for r in rows) / 1e6])
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(to, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="orii,1M,5M,20M,50M", help="generated lines (1M, 5M, ...) or orii")
    ap.add_argument("--systems", default="segspark,reference")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="per segspark run, seconds")
    ap.add_argument("--reference-timeout", type=float, default=3600)
    ap.add_argument("--reference-memory", type=float, default=20.0, help="GiB of the 24 on this machine")
    ap.add_argument("--data", type=Path, default=OUT / "data")
    ap.add_argument(
        "--lines-per-customer",
        type=int,
        default=LINES_PER_CUSTOMER,
        help="fewer makes a shop of many customers for its lines (4: 1M customers on 4M lines); such runs are "
        "recorded under their own system name and left out of the plot",
    )
    ap.add_argument("--plot-only", action="store_true", help="redraw docs/scale.png from the recorded results")
    args = ap.parse_args(argv)
    if args.plot_only:
        plot(merge([]), ROOT / "docs" / "scale.png")
        return 0
    systems = args.systems.split(",")
    results = []
    for token in args.sizes.split(","):
        if token == "orii":
            # Online Retail II as shipped (its own mapping and as-of date), next to the generated sizes.
            size, as_of, where = ORII_LINES, ORII_AS_OF, args.data / "orii"
            mapping = ROOT / "segspark" / "conf" / "sources" / "online_retail_ii.yaml"
        else:
            size, as_of = parse_size(token), END
            where = args.data / f"{size // 10**6}M" if size >= 10**6 else args.data / f"{size}"
            if args.lines_per_customer != LINES_PER_CUSTOMER:
                where = where.with_name(f"{where.name}-{args.lines_per_customer}-per-customer")
        where.mkdir(parents=True, exist_ok=True)
        if token != "orii":
            mapping = generate(size, where, args.lines_per_customer)
        if "segspark" in systems:
            m = run_segspark(size, mapping, where, args.master, args.timeout, args.driver_memory, as_of)
            if args.lines_per_customer != LINES_PER_CUSTOMER:
                m.system += f" ({args.lines_per_customer} lines per customer)"
            print(json.dumps(asdict(m)), flush=True)
            results.append(m)
        if "reference" in systems:
            m = run_reference(size, mapping, where, args.reference_timeout, args.reference_memory, as_of)
            print(json.dumps(asdict(m)), flush=True)
            results.append(m)
        merge(results)
    rows = merge(results)
    plot(rows, ROOT / "docs" / "scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
