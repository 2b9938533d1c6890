"""Predictor fit: Lightning ``Trainer.fit`` vs the plain full-batch loop of ``fit_predictor``.

Both train the same logistic ``AttributePredictor`` full-batch with AdamW on the same data
(3,000 × 13 standard-normal features, a noisy linear label, 2,000 train / 500 val rows) for
the same number of steps, without early stopping, so the ratio is the per-step overhead.

    python scripts/bench_predictor_fit.py --steps 200 --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import time
import warnings

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from latentgraph.predictors.model import AttributePredictor, fit_predictor


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2500, 13, generator=g)
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.7 * torch.randn(2500, generator=g) > 0).long()
    return x[:2000], y[:2000], x[2000:], y[2000:]


def lightning_fit(steps: int) -> float:
    x, y, vx, vy = data()
    model = AttributePredictor(n_features=13)
    model.set_standardisation(x)
    trainer = pl.Trainer(
        max_epochs=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        accelerator="cpu",
        devices=1,
    )
    start = time.perf_counter()
    trainer.fit(
        model, DataLoader(TensorDataset(x, y), batch_size=len(y)), DataLoader(TensorDataset(vx, vy), batch_size=len(vy))
    )
    return time.perf_counter() - start


def plain_fit(steps: int) -> float:
    x, y, vx, vy = data()
    start = time.perf_counter()
    fit_predictor(x, y, val=(vx, vy), seed=0, max_steps=steps, patience=steps + 1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    lightning, plain = [], []
    for _ in range(args.repeats):  # interleaved
        lightning.append(lightning_fit(args.steps))
        plain.append(plain_fit(args.steps))
    t_l, t_p = statistics.median(lightning), statistics.median(plain)
    print(f"machine: {platform.machine()} threads={torch.get_num_threads()} torch={torch.__version__}")
    print(f"{args.steps} full-batch steps with validation each step, median of {args.repeats}")
    print(f"Lightning Trainer.fit: {t_l:.3f} s   plain loop: {t_p:.3f} s   ratio {t_l / t_p:.1f}x")


if __name__ == "__main__":
    main()
