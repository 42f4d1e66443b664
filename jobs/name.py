"""spark-submit entry point for `segspark name` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["name", *sys.argv[1:]]))
