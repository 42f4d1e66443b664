"""spark-submit entry point for `segspark weekly` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["weekly", *sys.argv[1:]]))
