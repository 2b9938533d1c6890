"""The default run's cost with the shipped members (docs/method.md §3b), each from an empty cache:

* ``latentgraph``                       its own fit (seed 0) and the five shipped members: six fits
* ``latentgraph model=pretrained``      the five shipped members alone: nothing fitted
* ``latentgraph ensemble.shipped=false`` (with ``--one-fit``) one fit, as before the members
* ``latentgraph model=pretrained model.checkpoint=PATH`` (with ``--checkpoint PATH``, alone) one
  loaded WAE, nothing fitted

Each runs the installed app in a subprocess, in a fresh temporary directory with its own stage
cache, W&B off. Prints the wall time of each, the time between the log's stage lines (where the
time went), and how many fits each computed ("stage wae: computing" lines).

    python scripts/bench_default_run.py                 # the default run and model=pretrained
    python scripts/bench_default_run.py --one-fit       # and the one-fit run beside them
    python scripts/bench_default_run.py --checkpoint outputs/runs/<time>/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

COMMON = ["logger=csv_only", "trainer.enable_progress_bar=false"]
MILESTONES = (
    "stage wae: computing",
    "stage wae: the shipped member",
    "stage wae: loaded from",
    "shipped members:",
    "stage predictors: computing",
    "predictors: selections made",
    "few-shot AUROC",
    "done in",
)
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+\]")


def timed(args: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LATENTGRAPH_CACHE": str(Path(tmp) / "cache"), "WANDB_MODE": "disabled"}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "latentgraph.cli.main", *COMMON, *args],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"latentgraph {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return seconds, done.stdout + done.stderr


def milestones(log: str) -> list[str]:
    """Each milestone line's time since the first logged line."""
    first, out = None, []
    for line in log.splitlines():
        found = STAMP.match(line)
        if not found:
            continue
        when = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S")
        first = first or when
        if any(m in line for m in MILESTONES):
            message = line.split("] - ", 1)[-1][:90]
            out.append(f"  +{(when - first).total_seconds():6.0f} s  {message}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-fit", action="store_true", help="also time ensemble.shipped=false")
    parser.add_argument("--checkpoint", type=Path, help="time only model=pretrained model.checkpoint=PATH")
    args = parser.parse_args()
    runs = {"latentgraph": [], "latentgraph model=pretrained": ["model=pretrained"]}
    if args.checkpoint:
        runs = {"latentgraph model=pretrained model.checkpoint=PATH": [
            "model=pretrained", f"model.checkpoint={args.checkpoint.resolve()}"
        ]}  # fmt: skip
    if args.one_fit:
        runs["latentgraph ensemble.shipped=false"] = ["ensemble.shipped=false"]
    print(f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()}")
    for name, overrides in runs.items():
        seconds, log = timed(overrides)
        print(f"{name}: {seconds:.0f} s wall, {log.count('stage wae: computing')} fit(s) computed")
        print("\n".join(milestones(log)))


if __name__ == "__main__":
    main()
