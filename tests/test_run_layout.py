"""The run layout (latentgraph/run_layout.py): it names every file a run writes, and nothing else spells them."""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import pytest

from latentgraph.run_layout import RunLayout, SweepLayout, WaeCacheFiles, latest_run

SRC = Path(__file__).resolve().parents[1] / "src" / "latentgraph"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def layout_names() -> set[str]:
    """Every file and stage-folder name the layout owns."""
    run = RunLayout("/run")
    folders = [run, *run.subfolders(), SweepLayout("/sweep"), WaeCacheFiles("/cache")]
    return {path.name for folder in folders for path in folder.files()} | {f.path.name for f in run.subfolders()}


def test_the_layout_names_each_stage_file_under_its_stage_folder():
    run = RunLayout("/r")
    assert run.graph.blanket == Path("/r/graph/blanket.json")
    assert run.results.comparisons == Path("/r/results/comparisons.csv")
    assert run.member(3).consensus.stability == Path("/r/ensemble/seed-3/consensus/stability.json")
    assert run.perturbation.table("qvalues") == Path("/r/perturbation/qvalues.csv")
    assert SweepLayout("/s").ensemble.report == Path("/s/ensemble/report.html")
    assert run.owns("/r/checkpoints/best-007.ckpt") and run.owns("/r/ensemble/seed-2/graph/graph.png")
    assert not run.owns("/r/graph/notes.txt") and not run.owns("/r/checkpoints/model.ckpt")


@pytest.mark.parametrize("root", [SRC, SCRIPTS], ids=["src", "scripts"])
def test_no_module_but_the_layout_joins_a_run_file_name_onto_a_path(root):
    """A ``path / "blanket.json"``, ``path / "graph"`` or a glob of run files outside run_layout.py is a
    second owner."""
    names = layout_names()
    found = []
    for module in sorted(root.rglob("*.py")):
        if module.name == "run_layout.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.Constant)
                and node.right.value in names
            ):
                found.append(f"{module.relative_to(root)}:{node.lineno} / {node.right.value!r}")
            if (  # a glob pattern that spells a run's files: Path(sweep).glob("*/results/comparisons.csv")
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("glob", "rglob")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and set(str(node.args[0].value).split("/")) & names
            ):
                found.append(f"{module.relative_to(root)}:{node.lineno} glob {node.args[0].value!r}")
    # the macrel and molsets packages' own data folders, not a run's
    packages = ("attributes/macrel.py", "data/molecules.py")
    assert [f for f in found if not f.startswith(packages)] == []


def test_latest_run_is_the_newest_under_the_nearest_outputs_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("LATENTGRAPH_RUN_DIR", raising=False)
    runs = tmp_path / "outputs" / "runs"
    older, newer = runs / "2026-01-01_00-00-00", runs / "2026-01-02_00-00-00"
    for run in (older, newer):
        run.mkdir(parents=True)
    now = time.time()
    os.utime(older, (now, now))
    os.utime(newer, (now - 60, now - 60))  # the newest by time, not by name
    (tmp_path / "notebooks").mkdir()
    assert latest_run(tmp_path / "notebooks").path == older
    monkeypatch.setenv("LATENTGRAPH_RUN_DIR", str(newer))
    assert latest_run(tmp_path / "notebooks").path == newer


def test_latest_run_without_runs_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("LATENTGRAPH_RUN_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="LATENTGRAPH_RUN_DIR"):
        latest_run(tmp_path)
