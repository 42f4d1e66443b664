"""Every error segspark raises on purpose, each with a one-line meaning.

The command line turns these into a one-line message and a non-zero exit
code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SegsparkError(Exception):
    """Base class: a problem the user can fix (input, config, environment)."""


class ConfigError(SegsparkError):
    """A configuration key is unknown, has the wrong type or an invalid value."""


class MappingError(SegsparkError):
    """A source mapping file is invalid or does not match the source data."""


class PathError(SegsparkError):
    """A path is outside the warehouse root or is not a segspark table."""


class DataQualityError(SegsparkError):
    """Too many malformed input rows: the run stops before writing anything."""


class EnvironmentProblem(SegsparkError):
    """Java, Delta jars or another runtime prerequisite is missing."""


class MissingInputError(SegsparkError):
    """A table or snapshot a step needs has not been written (committed) yet."""


class FeatureMismatchError(SegsparkError):
    """A features snapshot lacks columns the model scores (e.g. an axis's inputs did not exist yet)."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing
