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
from urllib.parse import urlparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.exc import MappingError
from segspark.paths import is_local, local_path
from segspark.tables import Part

CHUNK = 1 << 20
# Remote inputs larger than this are identified by their listing, not their bytes (Spark's binaryFile
# reads a file whole, up to 2 GiB, and hashing would read the delivery a second time).
CONTENT_HASH_LIMIT = 1 << 30


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
    """sha256 over the input's files (relative path and bytes, in path order); a directory hashes every file.
    A remote input over CONTENT_HASH_LIMIT is identified by its listing instead (path, size, modification
    time; the fingerprint then starts with `meta:`)."""
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
    if spark is None:
        raise MappingError(f"fingerprinting {path} needs a Spark session")
    return remote_fingerprint(spark, path)


def remote_fingerprint(spark: SparkSession, path: str, limit: int = CONTENT_HASH_LIMIT) -> str:
    """The fingerprint of an input on any Hadoop file system, through Spark.

    Spark lists the files (path, size, modification time: no content is read); up to `limit` bytes in
    all, their bytes are hashed where they live, one short row per file coming back.
    """
    remote = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path)
    listing = remote.select("path", "length", "modificationTime").orderBy("path").collect()  # one row per file
    digest = hashlib.sha256()
    if sum(int(r["length"]) for r in listing) > limit:
        # Too large to read twice: the listing identifies the delivery (a re-upload counts as new).
        for r in listing:
            digest.update(f"{_relative(r['path'], path)}|{r['length']}|{r['modificationTime']}".encode())
        return "meta:" + digest.hexdigest()
    hashes = remote.select("path", F.sha2("content", 256).alias("h")).orderBy("path").collect()  # one per file
    for r in hashes:
        digest.update(_relative(r["path"], path).encode() + bytes.fromhex(r["h"]))
    return digest.hexdigest()


def _relative(full: str, base: str) -> str:
    """A listed file's path below the input's (Spark qualifies paths: s3a://b/x/f, file:/x/f)."""
    root = urlparse(base).path.rstrip("/")
    at = full.find(root) if root else -1
    return full[at + len(root) :] if at >= 0 else full


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
