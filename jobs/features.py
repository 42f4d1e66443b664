"""spark-submit entry point for `segspark features` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["features", *sys.argv[1:]]))
