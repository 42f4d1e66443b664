"""spark-submit entry point for `segspark score` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))
