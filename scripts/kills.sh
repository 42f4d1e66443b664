#!/usr/bin/env bash
# Twenty SIGKILLs of a snapshot write, five at each of four points (before the write, inside the data write,
# after the data, at the commit); the suite kills once at each. Results: docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SEGSPARK_ALL_KILLS=1 .venv/bin/python -m pytest -q tests/test_crash_safety.py --durations=0 "$@"
