#!/usr/bin/env bash
# 250 fuzzed order exports through ingestion (the suite tries 8): each must end in exact quarantine
# accounting or a clear one-line error naming the file. Outcomes go to bench/out/fuzz.tsv; results are
# recorded in docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
rm -f bench/out/fuzz.tsv
SEGSPARK_FUZZ_EXAMPLES="${SEGSPARK_FUZZ_EXAMPLES:-250}" SEGSPARK_FUZZ_LOG=bench/out/fuzz.tsv \
  .venv/bin/python -m pytest -q tests/test_fuzz_ingest.py "$@"
cut -f1 bench/out/fuzz.tsv | sort | uniq -c
