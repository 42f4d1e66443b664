"""spark-submit entry point for `segspark backfill` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["backfill", *sys.argv[1:]]))
