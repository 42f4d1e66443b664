"""spark-submit entry point for `segspark drift` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["drift", *sys.argv[1:]]))
