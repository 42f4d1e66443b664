"""spark-submit entry point for `segspark lookalikes` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["lookalikes", *sys.argv[1:]]))
