"""The public API: what `import segspark` offers, a fitted model loaded and applied like a pyspark.ml model,
and a package whose modules import without loops, each on its own."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

import segspark
from segspark.score.spark import PROFILE_COLUMNS
from tests.conftest import REPO

PACKAGE = REPO / "segspark"


def test_every_public_name_resolves_and_import_stays_light() -> None:
    for name in segspark.__all__:
        assert getattr(segspark, name) is not None, name
    code = "import sys, segspark; print(len(segspark.__all__), 'pyspark' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.split() == [str(len(segspark.__all__)), "False"]  # pyspark loads on first use only


def test_the_notebook_imports_only_the_public_api() -> None:
    notebook = json.loads((REPO / "notebooks" / "walkthrough.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "segspark" in imported
    assert not {m for m in imported if m and m.startswith("segspark.")}, imported


def test_model_load_transform_gives_the_committed_profiles(spark: SparkSession, shop_run: Path, tmp_path: Path) -> None:
    """`SegmentationModel.load(root).transform(features)` is the score step's own pass: the profiles it
    returns equal the committed ones; saved elsewhere and loaded again, the model scores the same."""
    # The fixture's own run is the first (other modules' commands add runs to the shared warehouse).
    summary = json.loads(sorted(shop_run.glob("runs/*/summary.json"))[0].read_text())
    day = summary["as_of"]
    model = segspark.SegmentationModel.load(str(shop_run))
    assert model.version == Path(summary["steps"]["fit"]["model"]).name
    features = segspark.read_table(spark, str(shop_run), "features", day).drop("snapshot_date")
    committed = (
        segspark.read_table(spark, str(shop_run), "customer_profiles", day)
        .select(*PROFILE_COLUMNS)
        .orderBy("customer_id")
    )
    got = model.transform(features)
    assert got.columns == list(PROFILE_COLUMNS)
    assert committed.count() == 3
    assert_df_equality(got.orderBy("customer_id"), committed, ignore_nullable=True)

    copy = segspark.SegmentationModel.load(model.save(str(tmp_path / "other")))
    assert copy.manifest == model.manifest and copy.path != model.path
    assert_df_equality(copy.transform(features).orderBy("customer_id"), committed, ignore_nullable=True)


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path, known: set[str]) -> set[str]:
    """segspark modules `path` imports anywhere (functions included), except under `if TYPE_CHECKING:`."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            assert node.level == 0, f"relative import in {path}"
            found.add(str(node.module))
            found.update(f"{node.module}.{a.name}" for a in node.names)

    Visitor().visit(ast.parse(path.read_text()))
    return found & known


def test_no_import_loops() -> None:
    modules = _modules()
    graph = {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}
    assert graph["segspark.pipeline"] and graph["segspark.cli"]  # the parse sees imports
    state: dict[str, int] = {}
    loops: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                loops.append([*trail[trail.index(other) :], other])
            elif other not in state:
                visit(other, [*trail, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not loops, [" -> ".join(loop) for loop in loops]
    # The library never imports the command line.
    cli = {m for m in modules if m in ("segspark.cli", "segspark.commands") or m.startswith("segspark.commands_")}
    cli.add("segspark.command_base")
    users = {m for m, deps in graph.items() if deps & cli and m not in cli}
    assert not users, users


def test_every_module_imports_on_its_own() -> None:
    """Each module imported first, in one fresh interpreter with segspark's modules dropped in between."""
    code = (
        "import importlib, sys\n"
        f"for name in {sorted(_modules())!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'segspark' or m.startswith('segspark.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
