"""EpochMeanTrainingCurves writes the training curves Lightning's per-step ``self.log`` would."""

from __future__ import annotations

import logging
import warnings

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from latentgraph.models.training_curves import EpochMeanTrainingCurves

FEATURES = 3


class _Regression(pl.LightningModule):
    """One linear layer with four terms like the WAE's; ``beta`` changes every step."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(FEATURES, 1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)

    def terms(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        error = self.layer(batch).squeeze(1)
        return {
            "loss": error.pow(2).mean(),
            "recon": error.abs().mean(),
            "reg": error.mean().pow(2),
            "beta": torch.tensor(float(self.global_step)),
        }


class LoggedEveryStep(_Regression):
    """The reference: Lightning's own ``log_dict(on_step, on_epoch)``, ``beta`` per step only."""

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        terms = self.terms(batch)
        beta = terms.pop("beta")
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, on_step=True, on_epoch=True, batch_size=len(batch))
        self.log("train/beta", beta, on_step=True, on_epoch=False)
        return terms["loss"]


class LoggedByCurves(EpochMeanTrainingCurves, _Regression):
    step_only_terms = ("beta",)

    def training_terms(self, batch: torch.Tensor, batch_idx: int) -> dict[str, torch.Tensor]:
        return self.terms(batch)


def _fit(module: pl.LightningModule, directory) -> pd.DataFrame:
    torch.manual_seed(0)
    module.layer.reset_parameters()
    # 70 rows: batches of 16 and a last one of 6
    rows = torch.randn(70, FEATURES, generator=torch.Generator().manual_seed(1))
    trainer = pl.Trainer(
        max_epochs=3,
        logger=pl.loggers.CSVLogger(directory, name="", version=""),
        log_every_n_steps=2,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        accelerator="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
        trainer.fit(module, DataLoader(rows, batch_size=16))
    return pd.read_csv(directory / "metrics.csv")


def test_the_curves_equal_lightnings_own_step_and_epoch_logging(tmp_path):
    expected = _fit(LoggedEveryStep(), tmp_path / "lightning")
    written = _fit(LoggedByCurves(), tmp_path / "curves")
    assert sorted(written.columns) == sorted(expected.columns)
    assert {"train/loss_step", "train/loss_epoch", "train/recon_epoch", "train/beta"} <= set(expected.columns)
    for column in (
        "train/loss_step",
        "train/recon_step",
        "train/reg_step",
        "train/beta",
        "train/loss_epoch",
        "train/recon_epoch",
        "train/reg_epoch",
    ):
        a, b = (frame.dropna(subset=[column]).set_index("step")[column] for frame in (expected, written))
        assert list(a.index) == list(b.index), column  # logged at the same steps
        assert b.to_numpy() == pytest.approx(a.to_numpy(), rel=1e-6), column  # epoch means weigh by batch size
    assert len(written.dropna(subset=["train/loss_epoch"])) == 3


def test_a_checkpoint_carries_the_running_sums_of_its_epoch():
    module = LoggedByCurves()
    module._curve_sums, module._curve_count = {"loss": torch.tensor(6.0)}, 3
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)  # current_epoch is 0 off a trainer
    resumed = LoggedByCurves()
    resumed.on_load_checkpoint(checkpoint)
    resumed.on_train_epoch_start()  # epoch 0 again: resumed midway, the sums continue
    assert resumed._curve_count == 3 and float(resumed._curve_sums["loss"]) == 6.0
    resumed.on_train_epoch_start()  # the next epoch starts afresh
    assert resumed._curve_count == 0 and resumed._curve_sums == {}
    old = LoggedByCurves()
    old.on_load_checkpoint({})  # a checkpoint from before the class
    old.on_train_epoch_start()
    assert old._curve_count == 0
