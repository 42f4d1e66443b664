"""spark-submit entry point for `segspark validate` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["validate", *sys.argv[1:]]))
