"""The wheel, the spark-submit entry points and the Databricks bundle."""

from __future__ import annotations

import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from segspark.cli import COMMANDS, build_parser
from segspark.config import load_config
from segspark.exc import ConfigError
from tests.conftest import REPO


def test_wheel_carries_the_package_data_and_the_console_script(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "segspark/conf/base.yaml",
        "segspark/conf/axes.yaml",
        "segspark/conf/sources/online_retail_ii.yaml",
        "segspark/report/report.html.j2",
        "segspark/py.typed",
        "segspark/cli.py",
    ):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "segspark = segspark.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_every_command_has_a_job_and_every_job_a_command() -> None:
    # spark-submit puts the job's folder first on sys.path: a job named like a standard-library module
    # (profile.py) would shadow it for everything imported after, pyspark included.
    jobs = {p.stem: p for p in (REPO / "jobs").glob("*.py")}
    assert not set(jobs) & sys.stdlib_module_names
    commands = {stem: "profile" if stem == "customer_profile" else stem for stem in jobs}
    assert sorted(commands.values()) == sorted(COMMANDS)
    for stem, command in commands.items():
        text = jobs[stem].read_text()
        assert f'main(["{command}", *sys.argv[1:]])' in text and "sys.path" not in text


def _tasks() -> list[tuple[str, dict[str, Any]]]:
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    return [(job, task) for job, spec in bundle["resources"]["jobs"].items() for task in spec["tasks"]]


def test_databricks_bundle_tasks_point_at_real_entry_points_and_config_keys() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    assert bundle["artifacts"]["segspark_wheel"]["type"] == "whl"
    weekly = [t["task_key"] for t in bundle["resources"]["jobs"]["segspark_weekly"]["tasks"]]
    assert weekly == ["weekly"]
    parser = build_parser()
    for job, task in _tasks():
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == project["name"], job
        assert wheel_task["entry_point"] in project["scripts"], job
        assert project["scripts"][wheel_task["entry_point"]] == "segspark.cli:main"
        assert [lib["whl"] for lib in task["libraries"]] == ["./dist/*.whl"]
        # Substitute what Databricks fills in at run time, then parse exactly as the console script would.
        params = [
            p.replace("${workspace.file_path}/", f"{REPO}/").replace("{{job.start_time.iso_date}}", "2026-11-30")
            for p in wheel_task["parameters"]
        ]
        args = parser.parse_args(params)
        assert args.command in COMMANDS
        for path in args.config:
            assert Path(path).is_file(), path
        config = load_config(args.config, args.sets)  # fails on any unknown key or wrong type
        assert config.get("warehouse.format") == "delta"
        assert config.get("naming.databricks_secret_scope") == "segspark"


def test_bundle_check_catches_an_unknown_config_key(tmp_path: Path) -> None:
    bad = tmp_path / "databricks.yaml"
    bad.write_text((REPO / "conf" / "databricks.yaml").read_text() + "drift:\n  no_such_key: 1\n")
    with pytest.raises(ConfigError, match=r"unknown configuration key 'drift.no_such_key'"):
        load_config([bad], [])
