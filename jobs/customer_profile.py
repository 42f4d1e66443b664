"""spark-submit entry point for `segspark profile` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["profile", *sys.argv[1:]]))
