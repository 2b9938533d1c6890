"""Predictor fit: Lightning ``Trainer.fit`` vs the plain full-batch loop of ``fit_predictor``.

Both train the same logistic ``AttributePredictor`` full-batch with AdamW on the same data
(3,000 × 13 standard-normal features, a noisy linear label, 2,000 train / 500 val rows) for
the same number of steps, without early stopping, so the ratio is the per-step overhead.

    python scripts/bench_predictor_fit.py --steps 200 --repeats 3

``--limited`` instead times the limited regime's fits for one feature set of 12 attributes
(50 label subsamples at each n in 16, 32, 64, 128; 500 steps, the L2 prior): one
``fit_predictor`` per subsample, as before, against ``fit_predictor_batch`` per n.

    python scripts/bench_predictor_fit.py --limited --repeats 3
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

from latentgraph.predictors.experiment import stratified_sample
from latentgraph.predictors.model import AttributePredictor, fit_predictor, fit_predictor_batch


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


LIMITED_N = (16, 32, 64, 128)
SUBSAMPLES = 50


def limited_one_at_a_time(steps: int) -> float:
    x, y, _, _ = data()
    x = x[:, :12]
    start = time.perf_counter()
    for n in LIMITED_N:
        for r in range(SUBSAMPLES):
            rows = torch.as_tensor(stratified_sample(y, n, r))
            fit_predictor(x[rows], y[rows], val=None, seed=r, max_steps=steps, l2=1 / (2 * n))
    return time.perf_counter() - start


def limited_batched(steps: int) -> float:
    x, y, _, _ = data()
    x = x[:, :12]
    start = time.perf_counter()
    for n in LIMITED_N:
        rows = [torch.as_tensor(stratified_sample(y, n, r)) for r in range(SUBSAMPLES)]
        xs, ys = torch.stack([x[r] for r in rows]), torch.stack([y[r] for r in rows])
        fit_predictor_batch(xs, ys, seeds=list(range(SUBSAMPLES)), max_steps=steps, l2=1 / (2 * n))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limited", action="store_true", help="time the limited regime: one fit at a time vs batched")
    args = parser.parse_args()
    if args.limited:
        steps = 500 if args.steps == 200 else args.steps
        single, batched = [], []
        for _ in range(args.repeats):  # interleaved
            single.append(limited_one_at_a_time(steps))
            batched.append(limited_batched(steps))
        t_s, t_b = statistics.median(single), statistics.median(batched)
        print(f"machine: {platform.machine()} threads={torch.get_num_threads()} torch={torch.__version__}")
        print(f"limited regime, 12 features, {SUBSAMPLES} subsamples x n in {LIMITED_N}, {steps} steps")
        print(f"one fit at a time: {t_s:.2f} s   batched per n: {t_b:.2f} s   ratio {t_s / t_b:.1f}x")
        return
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
