"""Predictor fit: Lightning ``Trainer.fit`` vs the plain full-batch loop of ``fit_predictor``.

Both train the same logistic ``AttributePredictor`` full-batch with AdamW on the same data
(3,000 × 13 standard-normal features, a noisy linear label, 2,000 train / 500 val rows) for
the same number of steps, without early stopping, so the ratio is the per-step overhead.

    python scripts/bench_predictor_fit.py --steps 200 --repeats 3

``--limited`` instead times the limited regime's fits for one selector's feature set (50 label
subsamples at each n in 16, 32, 64, 128; 500 steps, the L2 prior; subsample r keeps 1 + r mod 12
of 12 attributes, as a selector's choice varies): one ``fit_predictor_batch`` per n and width, as
before, against one ragged ``fit_predictor_batch`` of all 200 fits.

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

from latentgraph.predictors.labelled import stratified_sample
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


def limited_fits() -> list[tuple[torch.Tensor, torch.Tensor, int, float]]:
    """The 200 fits: rows, labels, seed and L2 strength; subsample r of each n keeps 1 + r mod 12 attributes."""
    x, y, _, _ = data()
    fits = []
    for n in LIMITED_N:
        for r in range(SUBSAMPLES):
            rows = torch.as_tensor(stratified_sample(y, n, r))
            fits.append((x[rows][:, : 1 + r % 12], y[rows], r, 1 / (2 * n)))
    return fits


def limited_per_width(steps: int) -> float:
    fits = limited_fits()
    start = time.perf_counter()
    groups: dict[tuple[int, float], list] = {}
    for fit in fits:
        groups.setdefault((fit[0].shape[1], fit[3]), []).append(fit)
    for (_, l2), group in groups.items():
        xs, ys = torch.stack([f[0] for f in group]), torch.stack([f[1] for f in group])
        fit_predictor_batch(xs, ys, seeds=[f[2] for f in group], max_steps=steps, l2=l2)
    return time.perf_counter() - start


def limited_ragged(steps: int) -> float:
    fits = limited_fits()
    start = time.perf_counter()
    fit_predictor_batch(
        [f[0] for f in fits], [f[1] for f in fits], seeds=[f[2] for f in fits], max_steps=steps, l2=[f[3] for f in fits]
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--limited",
        action="store_true",
        help="the limited regime: a batch per n and width vs one ragged batch",
    )
    args = parser.parse_args()
    if args.limited:
        steps = 500 if args.steps == 200 else args.steps
        grouped, ragged = [], []
        for _ in range(args.repeats):  # interleaved
            grouped.append(limited_per_width(steps))
            ragged.append(limited_ragged(steps))
        t_g, t_r = statistics.median(grouped), statistics.median(ragged)
        print(f"machine: {platform.machine()} threads={torch.get_num_threads()} torch={torch.__version__}")
        print(f"limited regime, 1-12 features, {SUBSAMPLES} subsamples x n in {LIMITED_N}, {steps} steps")
        print(f"a batch per n and width: {t_g:.2f} s   one ragged batch: {t_r:.2f} s   ratio {t_g / t_r:.1f}x")
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
