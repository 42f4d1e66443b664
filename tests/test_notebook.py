"""notebooks/walkthrough.ipynb runs top to bottom on a small slice of the bundled data."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import REPO, Background

# Run in a process of its own (conftest's `background` starts it when the session starts).
SCRIPT = """
import sys
import nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(notebook, sys.argv[3])
"""


def start_notebook(tmp: Path, orii_slice: Path) -> tuple[Background, Path]:
    """Execute notebooks/walkthrough.ipynb on the slice into tmp/executed.ipynb, in the background."""
    env = {
        **os.environ,
        "SEGSPARK_NOTEBOOK_INPUT": str(orii_slice),
        "SEGSPARK_NOTEBOOK_WAREHOUSE": str(tmp / "wh"),
        "SEGSPARK_NOTEBOOK_SET": "fit.k_max=3;fit.save_mllib=false;history.backfill_offsets=[28];"
        "drift.baselines=[28];spark.shuffle_partitions=2;spark.master=local[2]",
    }
    out = tmp / "executed.ipynb"
    cmd = [
        sys.executable,
        "-c",
        SCRIPT,
        str(REPO / "notebooks" / "walkthrough.ipynb"),
        str(REPO / "notebooks"),
        str(out),
    ]
    return Background(cmd, cwd=REPO, env=env, log=tmp / "notebook.log"), tmp


@pytest.mark.slow
def test_walkthrough_notebook_executes(background: dict[str, Any]) -> None:
    job, tmp = background["notebook"]
    code, log = job.result()
    assert code == 0, log[-3000:]
    notebook = nbformat.read(tmp / "executed.ipynb", as_version=4)
    outputs = {i: cell.get("outputs", []) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for out in outputs.values() for o in out
    )
    assert not any(o.get("output_type") == "error" for out in outputs.values() for o in out)
    assert "as of 2011-12-10" in text and "index.html" in text
    assert '"customer_id":' in text and "purchase_frequency" in text
    images = [o for out in outputs.values() for o in out if "image/png" in o.get("data", {})]
    assert len(images) == 1  # the drift plot
    assert (tmp / "wh" / "reports").is_dir()
