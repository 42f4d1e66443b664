"""spark-submit entry point for `segspark report` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
