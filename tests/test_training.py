"""In-process runs of the pipeline: seeding, artifacts, and the run-inspection notebook."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from omegaconf import open_dict

from latentgraph.cli.main import run

ROOT = Path(__file__).resolve().parents[1]


def fit(cfg, run_dir: Path, **overrides) -> dict:
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.paths.run_dir = str(run_dir)
        for key, value in overrides.items():
            cfg[key] = value
    return run(cfg)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def fresh_cache(cfg, cache_dir: Path):
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
    return cfg


def test_seed_zero_is_applied_and_runs_repeat_exactly(smoke_config, tmp_path):
    # separate caches, so the second seed-0 run trains instead of reusing the first one's WAE
    a = fit(fresh_cache(smoke_config, tmp_path / "cache_a"), tmp_path / "a", seed=0)
    b = fit(fresh_cache(smoke_config, tmp_path / "cache_b"), tmp_path / "b", seed=0)
    fit(smoke_config, tmp_path / "c", seed=1)
    wa, wb, wc = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # seed 0 seeds like any other seed
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert a["val/recon"] == b["val/recon"]


def test_notebook_executes_against_a_smoke_run(smoke_config, tmp_path):
    run_dir = tmp_path / "run"
    fit(smoke_config, run_dir)
    notebook = nbformat.read(ROOT / "notebooks" / "inspect_autoencoder_run.ipynb", as_version=4)
    os.environ["LATENTGRAPH_RUN_DIR"] = str(run_dir)
    try:
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        del os.environ["LATENTGRAPH_RUN_DIR"]
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the training-curve figure
    assert any("prior sample" in o.get("data", {}).get("text/plain", "") for o in outputs)


def test_validating_every_other_epoch_fits_the_same_model_and_reports_the_final_ones_quality(tmp_path):

    from conftest import settings_for

    from latentgraph.data import prepare_data
    from latentgraph.pipeline.autoencoder import train_autoencoder
    from latentgraph.runtime.tracking import RunLog

    quiet = ["experiment=smoke", "trainer.max_epochs=3", "trainer.enable_progress_bar=false"]
    every_epoch = settings_for(*quiet, "trainer.check_val_every_n_epoch=1")
    data = prepare_data(every_epoch.data)
    fits = {}
    for every in (1, 2):  # 3 epochs: validating every other epoch skips the last one
        run_dir = tmp_path / str(every)
        settings = settings_for(*quiet, f"trainer.check_val_every_n_epoch={every}", f"paths.run_dir={run_dir}")
        fits[every] = train_autoencoder(settings, run_dir, data, RunLog([]))
    (metrics_1, model_1, _), (metrics_2, model_2, trainer_2) = fits[1], fits[2]
    assert trainer_2.global_step == fits[1][2].global_step > 0
    state_1, state_2 = model_1.state_dict(), model_2.state_dict()
    assert all(torch.equal(state_1[k], state_2[k]) for k in state_1)  # validation draws nothing from training
    # the quality reported is the final model's, as when every epoch is validated
    for key in ("val/recon", "val/token_acc", "val/exact_match", "val/prior_valid"):
        assert metrics_2[key] == pytest.approx(metrics_1[key], abs=1e-6), key
