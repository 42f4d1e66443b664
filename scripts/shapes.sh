#!/usr/bin/env bash
# Every shape of tests/shapes.py through `segspark run` (the suite runs a representative sample):
# a few weeks of history, date-only timestamps, no product ids, a tiny shop, one big spender,
# and generated data with planted groups and support tickets. Results: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SEGSPARK_ALL_SHAPES=1 .venv/bin/python -m pytest -q tests/test_shapes.py --durations=0 "$@"
