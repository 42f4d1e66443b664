"""spark-submit entry point for `segspark fit` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["fit", *sys.argv[1:]]))
