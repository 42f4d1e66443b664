"""spark-submit entry point for `segspark snapshot` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["snapshot", *sys.argv[1:]]))
