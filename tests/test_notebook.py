"""notebooks/walkthrough.ipynb runs top to bottom on a small slice of the bundled data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, axes_subset


@pytest.mark.slow
def test_walkthrough_notebook_executes(orii_slice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSPARK_NOTEBOOK_INPUT", str(orii_slice))
    monkeypatch.setenv("SEGSPARK_NOTEBOOK_WAREHOUSE", str(tmp_path / "wh"))
    # Three axes: the notebook's cells are what is tested, and a fit costs time per axis.
    axes = axes_subset(tmp_path, ("purchase_frequency", "purchase_value", "customer_maturity"))
    monkeypatch.setenv(
        "SEGSPARK_NOTEBOOK_SET",
        "fit.k_max=3;fit.save_mllib=false;history.backfill_offsets=[28];drift.baselines=[28];"
        f"spark.shuffle_partitions=2;spark.master=local[2];features.axes_file={axes}",
    )
    notebook = nbformat.read(REPO / "notebooks" / "walkthrough.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}
    ).execute()
    outputs = {i: cell.get("outputs", []) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for out in outputs.values() for o in out
    )
    assert not any(o.get("output_type") == "error" for out in outputs.values() for o in out)
    assert "as of 2011-12-10" in text and "index.html" in text
    assert '"customer_id":' in text and "purchase_frequency" in text
    images = [o for out in outputs.values() for o in out if "image/png" in o.get("data", {})]
    assert len(images) == 1  # the drift plot
    assert (tmp_path / "wh" / "reports").is_dir()
