"""spark-submit entry point for `segspark run` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
