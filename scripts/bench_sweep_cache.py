"""Stage-cache benchmark: a 3-job graph.alpha sweep against one smoke run, each with an empty cache.

Both run the installed ``latentgraph`` app in a subprocess, in fresh temporary directories, so
neither finds a trained classifier, WAE or perturbation result left by the other:

* one run:   ``latentgraph experiment=smoke``
* the sweep: ``latentgraph -m experiment=smoke graph.alpha=0.01,0.05,0.1``

The sweep's first job computes every stage; the others should reuse the classifiers, the WAE
and the raw perturbation effects (and the predictor results, when the graph gives the same
blanket). Goal: sweep ≤ 1.5 × one run. Prints each job's reuse lines.

    python scripts/bench_sweep_cache.py --repeats 2
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = ["experiment=smoke", "logger=csv_only", "trainer.enable_progress_bar=false"]


def timed(args: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LATENTGRAPH_CACHE": str(Path(tmp) / "cache"), "WANDB_MODE": "disabled"}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "latentgraph.cli.main", *args],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return time.perf_counter() - start, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    singles, sweeps, log = [], [], ""
    for _ in range(args.repeats):  # interleaved
        singles.append(timed(COMMON)[0])
        seconds, log = timed(["-m", *COMMON, "graph.alpha=0.01,0.05,0.1"])
        sweeps.append(seconds)
    single, sweep = statistics.median(singles), statistics.median(sweeps)
    print(f"machine: {platform.machine()} cores={os.cpu_count()}")
    for line in re.findall(r"stage \w+: (?:reused|computing|computed)[^\n]*", log):
        print("  ", line[:100])
    print(f"one smoke run: {single:.2f} s (runs {', '.join(f'{s:.2f}' for s in singles)})")
    print(f"3-job sweep:   {sweep:.2f} s (runs {', '.join(f'{s:.2f}' for s in sweeps)})")
    print(f"ratio sweep / one run: {sweep / single:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
