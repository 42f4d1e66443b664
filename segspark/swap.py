"""Publishing a staged partition version by one atomic directory exchange (local stores)."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

from segspark.commits import Part
from segspark.exc import SegsparkError


def link_part(part: Part, visible: Path, staged: Path) -> Part:
    """Hard-link a kept part's files into the staged version (no copy; the old version keeps its own links)."""
    source = visible if part.files else visible / f"run_id={part.run_id}"
    names = part.files or tuple(sorted(f.name for f in source.glob("*.parquet")))
    for name in names:
        os.link(source / name, staged / name)
    return Part(part.run_id, part.rows, part.info, names)


def publish(staged: Path, visible: Path) -> None:
    """Make `staged` the visible partition directory in one step; the old version is deleted after."""
    visible.parent.mkdir(parents=True, exist_ok=True)
    if not visible.exists():
        os.rename(staged, visible)
        return
    exchange(staged, visible)
    shutil.rmtree(staged, ignore_errors=True)  # now the superseded version


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> None:
    """Swap two directories atomically (Linux renameat2 RENAME_EXCHANGE).

    Where the call is missing (not Linux) the swap is done by three renames, during which a reader can
    briefly miss the partition; docs/guide.md says so.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    call = getattr(libc, "renameat2", None)
    if call is not None:
        if call(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EXDEV:
            raise SegsparkError(f"{a} and {b} are on different file systems; the warehouse must be on one")
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(b))
    aside = a.with_name(a.name + ".old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)
