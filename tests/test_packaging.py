"""The package installs as a wheel that carries its configs, and the CLI finds them anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    # hydra_plugins is a namespace package shared with Hydra's own plugins: only our sweeper's is listed
    found = set(find_packages(str(ROOT / "src"))) | {"latentgraph.conf"}
    found |= {f"hydra_plugins.{name}" for name in find_packages(str(ROOT / "src" / "hydra_plugins"))}
    assert listed == found


def test_cli_reports_packaged_search_path_from_any_directory(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "latentgraph.cli.main", "--info", "searchpath"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "pkg://latentgraph.conf" in result.stdout


@pytest.mark.slow
def test_non_editable_wheel_ships_configs_and_runs_elsewhere(tmp_path):
    wheel_dir, target, elsewhere = tmp_path / "wheel", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir), str(ROOT)], check=True, timeout=300
    )
    wheel = next(wheel_dir.glob("latentgraph-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for config in (
        "config.yaml",
        "model/wae.yaml",
        "model/wae_class.yaml",
        "experiment/smoke.yaml",
        "data/default.yaml",
    ):
        assert f"latentgraph/conf/{config}" in names, config
    assert "hydra_plugins/latentgraph_sweeper/ensemble_sweeper.py" in names  # hydra/sweeper=latentgraph
    for shipped in ("members.json", "corpus_sha256.bin", "wae-seed100.pt", "wae-seed104.pt"):  # models/pretrained.py
        assert f"latentgraph/models/pretrained_members/{shipped}" in names, shipped
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300)
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    script = target / "bin" / "latentgraph"
    info = subprocess.run(
        [sys.executable, str(script), "--info", "searchpath"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert info.returncode == 0, info.stderr
    assert "pkg://latentgraph.conf" in info.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import latentgraph; print(latentgraph.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.strip().startswith(str(target))  # the wheel's copy, not the checkout
    cfg = subprocess.run(
        [sys.executable, str(script), "model=wae_class", "--cfg", "job"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cfg.returncode == 0, cfg.stderr
    assert "latent_dim: 100" in cfg.stdout
