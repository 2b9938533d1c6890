"""What logging the training curves costs a step: Lightning's per-step ``self.log`` against
:class:`~latentgraph.models.training_curves.EpochMeanTrainingCurves`, against no logging.

The model is a single linear layer, so the time per step is Lightning's loop plus the logging;
the WAE's fit has the same four terms (loss, recon, reg, beta) and about 4,500 steps. Each
variant fits ``--steps`` steps, interleaved over ``--repeats`` rounds; the medians are reported.

    .venv/bin/python scripts/bench_training_log.py --steps 1500 --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from latentgraph.models.training_curves import EpochMeanTrainingCurves

BATCHES_PER_EPOCH = 75  # the default corpus: 4,789 training sequences in batches of 64
FEATURES = 3


def _terms(module: pl.LightningModule, batch: torch.Tensor) -> dict[str, torch.Tensor]:
    """Four terms like the WAE's; ``beta`` changes every step, so step values are told apart."""
    residual = module.layer(batch).squeeze(1)
    loss = residual.pow(2).mean()
    return {
        "loss": loss,
        "recon": residual.abs().mean(),
        "reg": residual.mean().pow(2),
        "beta": torch.tensor(float(module.global_step)),
    }


class _Linear(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(FEATURES, 1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


class NotLogged(_Linear):
    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return _terms(self, batch)["loss"]


class LoggedEveryStep(_Linear):
    """The usual way, and the WAE's before 2026-11-30: ``log_dict(on_step, on_epoch)`` plus ``beta``;
    Lightning aggregates (tests/test_training_curves.py checks, on its own copy of this pair, that the CSVs agree)."""

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        terms = _terms(self, batch)
        beta = terms.pop("beta")
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, on_step=True, on_epoch=True, batch_size=len(batch))
        self.log("train/beta", beta, on_step=True, on_epoch=False)
        return terms["loss"]


class LoggedByCurves(EpochMeanTrainingCurves, _Linear):
    step_only_terms = ("beta",)

    def training_terms(self, batch: torch.Tensor, batch_idx: int) -> dict[str, torch.Tensor]:
        return _terms(self, batch)


def ms_per_step(module_class: type[pl.LightningModule], steps: int, directory: str) -> float:
    rows = torch.randn(BATCHES_PER_EPOCH * 64, FEATURES, generator=torch.Generator().manual_seed(0))
    trainer = pl.Trainer(
        max_steps=steps,
        logger=pl.loggers.CSVLogger(directory),
        log_every_n_steps=10,  # the default trainer's
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        accelerator="cpu",
    )
    started = time.perf_counter()
    trainer.fit(module_class(), DataLoader(rows, batch_size=64))
    return (time.perf_counter() - started) / trainer.global_step * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    variants = {
        "no logging": NotLogged,
        "self.log every step": LoggedEveryStep,
        "EpochMeanTrainingCurves": LoggedByCurves,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as directory:
        ms_per_step(NotLogged, 100, directory)  # warm-up
        for _ in range(args.repeats):
            for name, module_class in variants.items():
                times[name].append(ms_per_step(module_class, args.steps, directory))
    base = statistics.median(times["no logging"])
    print(f"{args.steps} steps, median of {args.repeats} interleaved rounds")
    print("| variant | ms per step | logging's cost per step | over 4,500 steps |")
    print("|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {median - base:+.3f} ms | {(median - base) * 4.5:+.1f} s |")


if __name__ == "__main__":
    main()
