"""The command line's live indicator: a spinner and the elapsed time of every running step, drawn under the
progress lines on a terminal (rich), and nothing elsewhere (logs, CI, pipes).

It follows the steps through the log records `runlog.step` writes, so the library never draws anything.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

_STARTED = "[%s] started"
_ENDED = ("[%s] done", "[%s] failed", "[%s] stopped")


class RunningSteps(logging.Handler):
    """A log handler that shows each step from its `started` record until its end record."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.running: dict[str, TaskID] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if not record.args or not isinstance(record.args, tuple):
            return
        name, template = str(record.args[0]), str(record.msg)
        if template == _STARTED:
            self.running[name] = self.progress.add_task(name)
        elif template.startswith(_ENDED) and name in self.running:
            self.progress.remove_task(self.running.pop(name))


@contextmanager
def live_steps(console: Console | None = None) -> Iterator[RunningSteps | None]:
    """Draw the running steps while the block runs, when `console` (default: stdout) is a terminal."""
    console = console or Console(file=sys.stdout)
    if not console.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, redirect_stdout=True) as progress:
        handler = RunningSteps(progress)
        logger = logging.getLogger("segspark")
        level = logger.level
        logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))  # the step records must be emitted
        logger.addHandler(handler)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
