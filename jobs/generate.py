"""spark-submit entry point for `segspark generate` (same arguments)."""

import sys

from segspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:]]))
