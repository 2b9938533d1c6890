"""The perturbation design, studied without labels (issue 14, docs/results.md).

For every fitted autoencoder of an ensemble run (``latentgraph ensemble.size=R``: the run
directory and its ``ensemble/seed-<s>/`` members) and every design — steps ``±δ`` for each
``δ`` in ``--deltas``, base codes from the prior or the posterior — this reruns the perturbation
experiment on the fitted model with the run's own attribute set (classifiers from the cache),
builds the graph at the run's graph settings, and reports per design, over the seeds:

* the decode change rate (fraction of perturbed decodes that differ from their base decode);
* latent edges, latents with an edge, attribute edges (means over seeds);
* the target's blanket in each fit and the mean pairwise Jaccard index of those blankets, next
  to the index random blankets of the same sizes would reach (``chance_jaccard``);

and per seed the number of active latents (posterior mean variance over held-out sequences
> 0.01, Burda et al., 2016). No label enters: the oracles are the run's, the metrics are about
decodes and graphs.

    python scripts/study/perturbation_design.py outputs/runs/<ensemble run> --deltas 0.25 0.5 1 2

The run's settings are composed from the packaged config plus ``--overrides`` (give the ensemble
run's own overrides, other than ``ensemble.size``, so that the graph settings and the classifiers
match).
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import product
from pathlib import Path

import pandas as pd
import torch
from finished_runs import consensus_stability
from hydra import compose, initialize_config_module

from latentgraph.config import register_configs, validate_config
from latentgraph.data import prepare_data
from latentgraph.graph import build_graph, chance_pairwise_jaccard, mean_pairwise_jaccard
from latentgraph.models.wae import SequenceWAE
from latentgraph.perturbation import run_perturbation
from latentgraph.pipeline.graph import blanket_report, graph_settings, target_columns
from latentgraph.pipeline.oracles import build_run_attribute_set, train_attribute_classifiers
from latentgraph.run_layout import RunLayout


def fits(run_dir: Path) -> dict[int, Path]:
    """Seed → checkpoint of every fit of the ensemble run (from its ``consensus/stability.json``)."""
    stability = consensus_stability(run_dir)
    return {seed: RunLayout(run).checkpoints.last for seed, run in zip(stability["seeds"], stability["runs"])}


def active_latents(model: SequenceWAE, sequences: list[str], threshold: float = 0.01) -> int:
    with torch.inference_mode():
        mu = torch.cat([model.encode(sequences[i : i + 512]) for i in range(0, len(sequences), 512)])
    return int((mu.var(dim=0) > threshold).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--deltas", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0])
    parser.add_argument("--bases", nargs="+", default=["prior", "posterior"])
    parser.add_argument("--overrides", nargs="*", default=[], help="the ensemble run's own overrides, if any")
    parser.add_argument("--out", type=Path, default=None, help="CSV of the table (default: <run_dir>/design.csv)")
    args = parser.parse_args()

    register_configs()
    with initialize_config_module(config_module="latentgraph.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"paths.run_dir={args.run_dir / 'design'}", *args.overrides])
    settings = validate_config(cfg)
    data = prepare_data(settings.data)
    classifiers = train_attribute_classifiers(settings, data, Path(settings.paths.run_dir))
    attributes, summary = build_run_attribute_set(settings, classifiers, data, Path(settings.paths.run_dir))
    held_out = list(data.corpus_val)
    checkpoints = fits(args.run_dir)
    models = {seed: SequenceWAE.load_from_checkpoint(c, map_location="cpu").eval() for seed, c in checkpoints.items()}
    active = {seed: active_latents(model, held_out) for seed, model in models.items()}
    print("active latents (posterior mean variance > 0.01):", active, flush=True)

    rows, blankets = [], {}
    for delta, base in product(args.deltas, args.bases):
        for seed, model in models.items():
            started = time.perf_counter()
            with torch.inference_mode():
                result = run_perturbation(
                    model,
                    attributes,
                    n_base=settings.perturbation.n_base,
                    deltas=[-delta, delta],
                    base=base,
                    sequences=held_out,
                    seed=seed,
                    latent_scale=str(settings.perturbation.latent_scale),
                    n_directions=settings.perturbation.n_directions,
                    progress=False,
                )
            graph = build_graph(result.cloned(), **graph_settings(settings.graph))
            report = blanket_report(graph, summary, "all")
            blankets[(delta, base, seed)] = report["blanket"]
            rows.append(
                {
                    "delta": delta,
                    "base": base,
                    "seed": seed,
                    "change_rate": float(result.change_rate.mean()),
                    "latent_edges": len(graph.latent_edges),
                    "latents_with_edges": len(graph.latents_with_edges),
                    "attribute_edges": graph.dag.number_of_edges(),
                    "blanket_size": len(report["blanket"]),
                    "active_latents": active[seed],
                }
            )
            print(
                f"±{delta} {base:9s} seed {seed}: change {rows[-1]['change_rate']:.2f}, "
                f"{rows[-1]['latent_edges']} latent edges, blanket {report['blanket']} "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    per_fit = pd.DataFrame(rows)
    table = per_fit.groupby(["delta", "base"], sort=False).mean(numeric_only=True).drop(columns="seed")
    table["blanket_jaccard"] = [
        mean_pairwise_jaccard([blankets[(delta, base, seed)] for seed in models]) for delta, base in table.index
    ]
    candidates = len(target_columns(summary)[1])
    table["chance_jaccard"] = [
        chance_pairwise_jaccard([len(blankets[(delta, base, seed)]) for seed in models], candidates)
        for delta, base in table.index
    ]
    out = args.out or args.run_dir / "design.csv"
    per_fit.to_csv(out.with_name(out.stem + "_per_fit.csv"), index=False)
    table.round(3).to_csv(out)
    (out.with_name(out.stem + "_blankets.json")).write_text(
        json.dumps({f"{d} {b} {s}": v for (d, b, s), v in blankets.items()}, indent=1)
    )
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
