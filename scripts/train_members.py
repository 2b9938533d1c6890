"""Fit (or reuse from the stage cache) the shipped pre-trained WAE members and write them into the
package: ``src/latentgraph/models/pretrained_members/`` (docs/method.md §3b).

The seeds are docs/analysis-plan.md's, named there before any of them was fitted; a member is
never chosen or dropped after its results are seen. Each is the pipeline's own fit at the default
settings (``latentgraph seed=S``, the autoencoder stage alone), so the stage cache reuses a fit
that a study already made. The weights are stored in float16; the held-out token accuracy is
measured on the shipped weights, on the corpus's validation split.

    python scripts/train_members.py            # seeds 100-104
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_module

from latentgraph.config import Config, validate_config
from latentgraph.models import pretrained
from latentgraph.pipeline import autoencoder_stage, data_stage, oracle_stage
from latentgraph.pipeline.shipped import recipe
from latentgraph.run_layout import RunLayout
from latentgraph.runtime.cache.keys import wae_key
from latentgraph.runtime.tracking import RunLog

PLANNED_SEEDS = (100, 101, 102, 103, 104)  # docs/analysis-plan.md, "Fits (seeds)"


def member_settings(seed: int, run_dir: Path) -> Config:
    overrides = [f"seed={seed}", f"paths.run_dir={run_dir}", "perturbation.enabled=false", "logger.wandb.enabled=false"]
    with initialize_config_module(config_module="latentgraph.conf", version_base="1.3"):
        return validate_config(compose(config_name="config", overrides=overrides))


def revision() -> dict:
    """The checkout's commit, and whether it had uncommitted changes when the members were written."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False)
    return {"commit": head.stdout.strip() or "unknown", "uncommitted_changes": bool(status.stdout.strip())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=pretrained.MEMBERS_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    entries = []
    with tempfile.TemporaryDirectory() as scratch:
        # the data and the oracles do not depend on the seed: prepared once, for every member
        shared_run = Path(scratch) / "shared"
        first = member_settings(PLANNED_SEEDS[0], shared_run)
        data = data_stage(first.data, shared_run)
        oracles = oracle_stage(first, data, shared_run)
        for seed in PLANNED_SEEDS:
            run_dir = Path(scratch) / f"seed-{seed}"
            settings = member_settings(seed, run_dir)
            fit = autoencoder_stage(settings, data, oracles, run_dir, RunLog([]))
            path = args.out / f"wae-seed{seed}.pt"
            pretrained.save_member(fit.model, path)
            shipped = pretrained.load_weights(path)
            entries.append(
                {
                    "seed": seed,
                    "file": path.name,
                    "wae_key": wae_key(settings),
                    "fit": fit.metrics,
                    "held_out": {
                        **pretrained.held_out_accuracy(shipped, list(data.corpus_val)),
                        "measure": pretrained.HELD_OUT_MEASURE,
                    },
                    "fit_provenance": json.loads(RunLayout(run_dir).metrics.wae_provenance.read_text()),
                }
            )
            print(f"seed {seed}: {path} held-out token accuracy {entries[-1]['held_out']['token_acc']:.4f}")
    record = pretrained.write_manifest(
        args.out,
        entries,
        recipe(settings),
        data.corpus_train + data.corpus_val,
        exported_by="scripts/train_members.py",
        code_revision=revision(),
    )
    print(f"{len(entries)} members and {record['corpus']['sequences']} corpus digests in {args.out}")


if __name__ == "__main__":
    main()
