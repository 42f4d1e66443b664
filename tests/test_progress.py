"""The live step indicator: drawn on a terminal while steps run, following runlog's records; absent elsewhere."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from segspark.progress import live_steps
from segspark.runlog import step


def test_running_steps_are_shown_until_they_end() -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=80)
    with live_steps(terminal) as running:
        assert running is not None
        with step("features"):
            assert list(running.running) == ["features"]
            inner = threading.Thread(target=lambda: step("score").__enter__())  # another thread's step
            inner.start()
            inner.join()
            assert sorted(running.running) == ["features", "score"]
        assert list(running.running) == ["score"]
        try:
            with step("fit"):
                raise ValueError("boom")
        except ValueError:
            pass
        assert "fit" not in running.running  # a failed step leaves the display too
    assert "features" in out.getvalue()


def test_nothing_is_drawn_off_a_terminal() -> None:
    out = io.StringIO()
    with live_steps(Console(file=out, force_terminal=False)) as running, step("features"):
        assert running is None
    assert out.getvalue() == ""
