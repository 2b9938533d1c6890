"""Ensemble benchmark: R members one after another in one process, against R members as parallel jobs.

Each variant runs the installed ``latentgraph`` app in a subprocess, in a fresh temporary directory
with an empty stage cache, with the default model and perturbation and a shortened fit
(``trainer.max_epochs``), so the members' cost dominates:

* ``in-process``: ``latentgraph ensemble.size=R`` (the members in turn, torch on every core);
* ``jobs``: ``latentgraph -m experiment=ensemble_jobs hydra/launcher=joblib hydra.launcher.n_jobs=J``
  with ``OMP_NUM_THREADS=C/J`` (J members at a time, C/J threads each), then the ensemble step.

Both end with the same ensemble step (graphs, consensus, a reduced predictor stage). Prints each
variant's wall time, the ratio, and every member's held-out token accuracy (member quality).

``--vectorised-ceiling`` measures instead the most a vectorised ensemble (R autoencoders trained as
one batched model, stacked weights) could gain over R members in turn. Such a model does R members'
arithmetic per step, in fewer and larger kernels; its best case is one autoencoder's training step
on a batch R times as large (the same weight shapes, one matrix product where the stacked model
needs R batched ones, and one optimiser step over one member's parameters instead of R). The
ceiling is ``R · t(batch B) / t(batch R·B)``, per-step times of the default model's training step
(the pipeline's loss, backward, gradient clipping and fused Adam) on the default corpus, the two
batch sizes interleaved.

    python scripts/bench_ensemble.py --members 4 --epochs 6 --jobs 2
    python scripts/bench_ensemble.py --vectorised-ceiling --members 5 --steps 40 --repeats 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from latentgraph.run_layout import RunLayout, SweepLayout

QUIET = [
    "logger=csv_only",
    "trainer.enable_progress_bar=false",
    "predictor.regime=supervised",
    "predictor.feature_sets=[markov_blanket,all]",
]


def run(args: list[str], threads: int | None) -> tuple[float, list[float]]:
    """Wall seconds of one command in a fresh directory and cache, and its members' token accuracies."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LATENTGRAPH_CACHE": str(Path(tmp) / "cache"), "WANDB_MODE": "disabled"}
        if threads is not None:
            env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "latentgraph.cli.main", *args], cwd=tmp, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"failed ({' '.join(args)}):\n{done.stderr[-3000:]}")
        # each member's fit once: the in-process run and its members, or the member jobs (not the
        # ensemble step's copies of their cached fits)
        run, sweep = RunLayout(Path(tmp) / "run"), SweepLayout(Path(tmp) / "sweep")
        fits = [run, *run.members()] if run.path.is_dir() else []
        fits += [job for job in sweep.jobs() if job.path.name.isdigit()] if sweep.path.is_dir() else []
        wae = [fit.metrics.wae for fit in fits if fit.metrics.wae.is_file()]
        return seconds, [json.loads(path.read_text())["val/token_acc"] for path in wae]


def seconds_per_step(batch_size: int, steps: int) -> float:
    """Mean seconds of one default training step (after one warm-up step) at ``batch_size`` rows."""
    import torch
    from hydra import compose, initialize_config_module

    from latentgraph.config import validate_config
    from latentgraph.data import SequenceDataModule, prepare_data
    from latentgraph.models.wae import SequenceWAE
    from latentgraph.pipeline.autoencoder import model_kwargs

    with initialize_config_module(config_module="latentgraph.conf", version_base="1.3"):
        overrides = ["paths.run_dir=/tmp/unused", f"data.batch_size={batch_size}"]
        settings = validate_config(compose(config_name="config", overrides=overrides))
    torch.manual_seed(settings.seed)
    model = SequenceWAE(**model_kwargs(settings.model, settings.data.alphabet)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.model.lr, fused=True)
    prepared = prepare_data(settings.data)
    module = SequenceDataModule(settings.data, prepared=prepared, seed=settings.seed)
    module.setup("fit")
    batches = itertools.cycle(list(itertools.islice(module.train_dataloader(), steps + 1)))  # one epoch, reused
    start = 0.0
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        model.reseed(step)
        loss = model.loss_terms(next(batches))["loss"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return (time.perf_counter() - start) / steps


def vectorised_ceiling(members: int, steps: int, repeats: int) -> None:
    """Print ``R · t(B) / t(R·B)``: the most a vectorised R-member ensemble could gain on this machine."""
    import torch

    from latentgraph.config.schema import DataConfig

    batch = DataConfig().batch_size
    one, stacked = [], []
    for _ in range(repeats):  # interleaved: the machine's slow minutes fall on both
        one.append(seconds_per_step(batch, steps))
        stacked.append(seconds_per_step(members * batch, steps))
    t_one, t_stacked = statistics.median(one), statistics.median(stacked)
    print(f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}")
    print(f"batch {batch}: {t_one * 1e3:.1f} ms/step ({[round(t * 1e3, 1) for t in one]})")
    print(f"batch {members * batch}: {t_stacked * 1e3:.1f} ms/step ({[round(t * 1e3, 1) for t in stacked]})")
    print(f"vectorised-ensemble ceiling at R={members}: {members * t_one / t_stacked:.2f}x (goal >= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--vectorised-ceiling", action="store_true", help="the batched-model bound instead")
    parser.add_argument("--steps", type=int, default=40, help="--vectorised-ceiling: timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="--vectorised-ceiling: interleaved repeats")
    args = parser.parse_args()
    if args.vectorised_ceiling:
        vectorised_ceiling(args.members, args.steps, args.repeats)
        return
    cores = os.cpu_count() or 1
    fit = [*QUIET, f"trainer.max_epochs={args.epochs}"]
    print(f"{platform.processor() or platform.machine()}, {cores} cores; {args.members} members x {args.epochs} epochs")
    inline, inline_acc = run([*fit, f"ensemble.size={args.members}", "hydra.run.dir=run"], threads=None)
    print(f"in-process ensemble.size={args.members}: {inline:.1f} s; token acc {[round(a, 4) for a in inline_acc]}")
    jobs_args = [
        "-m",
        "experiment=ensemble_jobs",
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={args.jobs}",
        *fit,
        f"seed=range(0,{args.members})",
        "hydra.sweep.dir=sweep",
    ]
    parallel, parallel_acc = run(jobs_args, threads=max(1, cores // args.jobs))
    print(
        f"{args.jobs} member jobs at a time, {max(1, cores // args.jobs)} thread(s) each: {parallel:.1f} s; "
        f"token acc {[round(a, 4) for a in parallel_acc]}"
    )
    print(f"ratio in-process / jobs: {inline / parallel:.2f}x (goal >= 1.5x)")


if __name__ == "__main__":
    main()
