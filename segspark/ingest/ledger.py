"""The ingestion ledger: which inputs a source's orders are made of, keyed on each input's content.

The ledger is not a file of its own: every ingested input is one part of the
committed `orders/source=NAME` partition, and its marker records the input's
name, content fingerprint and accounting. Publishing an input and recording it
in the ledger are therefore one atomic step (the marker's rename).

- The same content delivered twice (under any name) is ingested once.
- A file delivered again under the same name with other content is a correction:
  it replaces the lines of the earlier delivery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.exc import MappingError
from segspark.paths import is_local, local_path
from segspark.tables import Part

CHUNK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    """One delivery: where it is, the name that identifies it, and a hash of its content."""

    path: str
    name: str
    fingerprint: str


@dataclass(frozen=True)
class AppendPlan:
    """What appending an input does to the ledger."""

    duplicate_of: Part | None
    replaces: tuple[Part, ...]
    keep: tuple[Part, ...]


def input_name(path: str) -> str:
    """The delivery's name: its file or directory name (a corrected file keeps it)."""
    return PurePosixPath(path.rstrip("/")).name or path


def fingerprint(spark: SparkSession | None, path: str) -> str:
    """sha256 over the input's files (relative path and bytes, in path order); a directory hashes every file."""
    if is_local(path):
        target = local_path(path)
        if not target.exists():
            raise MappingError(f"input {path} does not exist")
        files = [target] if target.is_file() else sorted(f for f in target.rglob("*") if f.is_file())
        digest = hashlib.sha256()
        for f in files:
            if f != target and f.name.startswith((".", "_")):
                continue  # inside a directory, Spark's own markers (_SUCCESS, .crc) are not content
            digest.update(str(f.relative_to(target)).encode() if f != target else b"")
            with f.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
        return digest.hexdigest()
    # Object stores: Spark hashes each file where it lives; one short row per file comes back.
    if spark is None:
        raise MappingError(f"fingerprinting {path} needs a Spark session")
    rows = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(path)
        .select("path", F.sha2("content", 256).alias("h"))
        .orderBy("path")
        .collect()  # one short row (path, hash) per file of the input
    )
    digest = hashlib.sha256()
    for r in rows:
        digest.update(r["path"].removeprefix(path.rstrip("/")).encode() + bytes.fromhex(r["h"]))
    return digest.hexdigest()


def describe_input(spark: SparkSession | None, path: str) -> InputFile:
    """The ledger identity of an input path."""
    return InputFile(path=path, name=input_name(path), fingerprint=fingerprint(spark, path))


def plan_append(parts: Sequence[Part], item: InputFile) -> AppendPlan:
    """Whether `item` was already ingested, which parts it corrects, and which stay."""
    for part in parts:
        if part.info.get("fingerprint") == item.fingerprint:
            return AppendPlan(duplicate_of=part, replaces=(), keep=tuple(parts))
    replaces = tuple(p for p in parts if p.info.get("input") == item.name)
    return AppendPlan(duplicate_of=None, replaces=replaces, keep=tuple(p for p in parts if p not in replaces))
