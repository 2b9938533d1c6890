"""Shared fixtures: the composed config (Hydra compose API, once per session) and CLI helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf, open_dict

from latentgraph.config import Config, validate_config

os.environ.setdefault("WANDB_MODE", "disabled")  # tests never talk to W&B unless a test opts in
os.environ.setdefault("WANDB_SILENT", "true")


FAST = ["logger.wandb.mode=disabled", "trainer.enable_progress_bar=false"]
# a smoke run without W&B, progress bars or the slower regimes: for the sweep, cache and domain tests
QUIET_SMOKE = [
    "experiment=smoke",
    "logger=csv_only",
    "trainer.enable_progress_bar=false",
    "predictor.regime=supervised",
]


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    with initialize_config_module(config_module="latentgraph.conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides or []))


def settings_for(*overrides: str) -> Config:
    """The validated, typed settings for ``overrides`` (what every pipeline stage receives)."""
    return validate_config(compose_config(["paths.run_dir=/tmp/unused", *overrides]))


@pytest.fixture(scope="session")
def smoke_config_base() -> DictConfig:
    return compose_config(["experiment=smoke", *FAST])


@pytest.fixture
def smoke_config(smoke_config_base: DictConfig, tmp_path: Path) -> DictConfig:
    cfg = smoke_config_base.copy()
    with open_dict(cfg):
        cfg.paths.run_dir = str(tmp_path / "run")
        cfg.paths.cache_dir = str(tmp_path / "cache")
    return cfg


def run_cli(
    *overrides: str, cwd: Path, timeout: float = 600, env: dict | None = None, plant: str | None = None
) -> subprocess.CompletedProcess:
    """Run the installed ``latentgraph`` app in a subprocess (the way users do).

    ``plant``: Python source installed as ``sitecustomize`` (in ``cwd/site``), so it runs in every
    process of the run, a launcher's workers included, and can patch ``latentgraph.cli.main``
    before the app starts (the app is then started as ``latentgraph.cli.main.entry()``).
    """
    command = [sys.executable, "-m", "latentgraph.cli.main", *overrides]
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", "LATENTGRAPH_CACHE": str(cwd / "cache"), **(env or {})}
    if plant is not None:
        site = cwd / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(plant)
        full_env["PYTHONPATH"] = os.pathsep.join([str(site), full_env.get("PYTHONPATH", "")])
        command = [sys.executable, "-c", "import latentgraph.cli.main as app; app.entry()", *overrides]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg)
