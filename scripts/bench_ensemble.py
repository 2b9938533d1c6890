"""Ensemble benchmark: R members one after another in one process, against R members as parallel jobs.

Each variant runs the installed ``latentgraph`` app in a subprocess, in a fresh temporary directory
with an empty stage cache, with the default model and perturbation and a shortened fit
(``trainer.max_epochs``), so the members' cost dominates:

* ``in-process``: ``latentgraph ensemble.size=R`` (the members in turn, torch on every core);
* ``jobs``: ``latentgraph -m experiment=ensemble_jobs hydra/launcher=joblib hydra.launcher.n_jobs=J``
  with ``OMP_NUM_THREADS=C/J`` (J members at a time, C/J threads each), then the ensemble step.

Both end with the same ensemble step (graphs, consensus, a reduced predictor stage). Prints each
variant's wall time, the ratio, and every member's held-out token accuracy (member quality).

    python scripts/bench_ensemble.py --members 4 --epochs 6 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
        fits = sorted(Path(tmp).glob("run/metrics/wae.json")) + sorted(
            Path(tmp).glob("run/ensemble/*/metrics/wae.json")
        )
        fits += sorted(Path(tmp).glob("sweep/[0-9]*/metrics/wae.json"))
        return seconds, [json.loads(path.read_text())["val/token_acc"] for path in fits]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
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
