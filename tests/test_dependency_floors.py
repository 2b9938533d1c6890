"""pyproject.toml's lower bounds are true: every dependency at its floor, installed together, runs the
main job and the core tests. torch is the exception: the install takes the CPU build setup.sh pins
(an older torch from the index is a multi-GB CUDA build)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # scripts/setup.sh's pin
CORE_TESTS = [
    "tests/test_stage_cache.py",
    "tests/test_checkpoint_io.py",
    "tests/test_wae.py",
    "tests/test_config.py",
    "tests/test_shipped_members_join.py",
    "tests/test_pretrained_members.py",
    "tests/test_straight_pipeline.py::test_a_cache_lock_follows_the_umask_so_a_group_can_share_the_cache",
]


def floors() -> list[str]:
    """``name==floor`` for every dependency with a lower bound, torch aside."""
    pins = []
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        found = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,;\s]*)", requirement)
        assert found, f"{requirement}: every dependency states its floor"
        if found.group(1) != "torch":
            pins.append(f"{found.group(1)}=={found.group(2)}")
    return pins


def canonical(name: str) -> str:
    """A distribution's name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_states_a_floor():
    assert "pytorch-lightning==2.6" in floors() and len(floors()) >= 20


@pytest.mark.slow
def test_the_main_job_and_the_core_tests_run_at_the_floors(tmp_path):
    venv = tmp_path / "floors"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    (tmp_path / "floors.txt").write_text("\n".join(floors()) + "\n")
    subprocess.run([*pip, TORCH], check=True, timeout=900)
    subprocess.run([*pip, "-c", str(tmp_path / "floors.txt"), "-e", str(ROOT)], check=True, timeout=1800)
    subprocess.run([*pip, "pytest", "hypothesis", "psutil"], check=True, timeout=900)
    report = "import json, importlib.metadata as m; print(json.dumps({d.name: d.version for d in m.distributions()}))"
    versions = subprocess.run([python, "-c", report], capture_output=True, text=True, check=True)
    installed = {canonical(name): version for name, version in json.loads(versions.stdout).items()}
    for pin in floors():  # what was installed is the floor itself
        name, floor = pin.split("==")
        assert Version(installed[canonical(name)]) == Version(floor), (pin, installed[canonical(name)])

    env = {**os.environ, "WANDB_MODE": "offline", "LATENTGRAPH_CACHE": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(
        [str(venv / "bin" / "latentgraph"), "experiment=smoke", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "run" / "report.html").is_file()
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *CORE_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:]
