"""segspark: behavioural multi-axis fuzzy customer segmentation on Apache Spark."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segspark")
except PackageNotFoundError:  # imported from a source tree or a zip on --py-files without metadata
    __version__ = "0.1.0"
