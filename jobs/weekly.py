"""spark-submit entry point for `segspark weekly` (same arguments)."""

import sys
from pathlib import Path

# spark-submit puts this folder first on sys.path, where profile.py would shadow the standard library's
# profile module (which pyspark imports); so the folder is taken off before anything else is imported.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from segspark.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["weekly", *sys.argv[1:]]))
