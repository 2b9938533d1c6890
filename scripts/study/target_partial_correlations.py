"""Why does a blanket member flip between fits? The target's partial correlations over pooled fits.

Each argument is a finished ``latentgraph ensemble.size=R graph.structure=gradient_covariance``
run (``experiment=stable_blanket``, say). The script reloads every member's saved effects
(``perturbation/result.npz``; nothing is refitted, no label is read), recomputes the
gradient-covariance partial correlations (docs/method.md §5d) and prints, for every candidate
member of the target's blanket:

* the mean and standard deviation of its partial correlation with the target over all fits,
  how many fits sit on the mean's side of 0, and in how many the test passes (``q < alpha``);

and, for each ``--floor`` (an extra rule ``|partial correlation| ≥ floor`` on top of the test),
each run's mean pairwise Jaccard of per-fit blankets, its consensus blanket and the consensus
Jaccard between the runs. Floor 0 is what the pipeline does, so those numbers match the runs'
``consensus/stability.json``. A last table sets every floor against the study's stability goals
(per-seed Jaccard ≥ 0.7 in each run, consensus Jaccard ≥ 0.8 between runs) with the mean blanket
size beside them, since an empty or one-member blanket meets them trivially.

``--log-odds NAME ...`` first reads those attributes (classifier probabilities) as log-odds,
``log p − log(1 − p)`` with ``p`` clipped to ``[1e-6, 1 − 1e-6]``, and reports how saturated
their probabilities are. A sigmoid's slope vanishes where it saturates, so a probability moves
only for the few codes near the decision boundary; the log-odds move for all.

    python scripts/study/target_partial_correlations.py RUN [RUN ...] [--log-odds amp acp] \
        [--floor 0 0.05 0.1] [--out x.png]

``--out`` draws every fit's partial correlation per candidate, filled where the test passed.

docs/results.md ("Why the AMP blanket will not settle") was made with it.
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from finished_runs import consensus_stability  # noqa: E402

from latentgraph.graph import jaccard, mean_pairwise_jaccard  # noqa: E402
from latentgraph.graph.agreement import votes_needed  # noqa: E402
from latentgraph.graph.gradient_covariance import gradient_covariance  # noqa: E402
from latentgraph.perturbation.edge_tests import attribute_spread  # noqa: E402
from latentgraph.perturbation.result import PerturbationResult  # noqa: E402
from latentgraph.report.figures import save_png  # noqa: E402
from latentgraph.run_layout import RunLayout  # noqa: E402

CLIP = 1e-6
PER_SEED_GOAL, CONSENSUS_GOAL = 0.7, 0.8  # the blanket study's stability goals


def log_odds(p: torch.Tensor) -> torch.Tensor:
    p = p.to(torch.float64).clamp(CLIP, 1 - CLIP)
    return torch.log(p) - torch.log1p(-p)


def read_as_log_odds(result: PerturbationResult, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The effects ``[n, d, K, m]`` and base values ``[n, m]`` with ``names`` on the log-odds scale."""
    effects, base = result.effects.to(torch.float64).clone(), result.base_values.to(torch.float64).clone()
    for name in names:
        if name not in result.attribute_names:
            raise SystemExit(f"--log-odds {name}: no such attribute (the run's: {result.attribute_names})")
        a = result.attribute_names.index(name)
        start = base[:, a].clone()
        seen = start[torch.isfinite(start)]  # a base decode no oracle could score is NaN
        if len(seen) and (seen.min() < 0 or seen.max() > 1):
            raise SystemExit(f"--log-odds {name}: its values leave [0, 1], so they are no probabilities")
        effects[..., a] = log_odds(start[:, None, None] + effects[..., a]) - log_odds(start)[:, None, None]
        base[:, a] = log_odds(start)
    return effects, base


def member_partial_correlations(member: Path, target: str, candidates: list[str], names: list[str]) -> tuple:
    """``(partial correlations, whether the test passes)`` of the target with each candidate, in one member fit."""
    run = RunLayout(member)
    result = PerturbationResult.load(run.perturbation.path)
    graph = json.loads(run.graph.graph.read_text())
    alpha = graph["settings"]["alpha"]
    if graph["structure"] != "gradient_covariance":
        print(f"note: {member} built a {graph['structure']} graph; its blankets are not these tests'")
    effects, base = read_as_log_odds(result, names)
    covariance = gradient_covariance(
        effects, result.deltas, attribute_spread(base), result.attribute_names, alpha=alpha
    )
    t = result.attribute_names.index(target)
    columns = [result.attribute_names.index(c) for c in candidates]
    return covariance.partial_correlation[t, columns], covariance.qvalues[t, columns] < alpha, result


def saturation(result: PerturbationResult, name: str) -> str:
    a = result.attribute_names.index(name)
    base = result.base_values[:, a].to(torch.float64)
    still = float(np.nanmean(np.abs(result.effects[..., a].numpy()) < 1e-3))
    ends = float(((base < 0.01) | (base > 0.99)).to(torch.float64).mean())
    return (
        f"{name}: {ends:.0%} of base probabilities below 0.01 or above 0.99; {still:.0%} of moves change it by < 0.001"
    )


def picture(values, passes, candidates, order, title: str, out: Path) -> None:
    """Every fit's partial correlation with the target, per candidate; filled where the test passed."""
    figure, axis = plt.subplots(figsize=(7, 0.32 * len(candidates) + 1.2), layout="constrained")
    jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(values))
    for row, c in enumerate(order):
        y = np.full(len(values), row) + jitter
        axis.scatter(values[~passes[:, c], c], y[~passes[:, c]], facecolors="none", edgecolors="grey", s=18)
        axis.scatter(values[passes[:, c], c], y[passes[:, c]], color="tab:blue", s=18)
    axis.axvline(0, color="black", linewidth=0.6)
    axis.set_yticks(range(len(order)), [candidates[c] for c in order], fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("partial correlation with the target (filled: the test passes in that fit)")
    axis.set_title(title, fontsize=9)
    save_png(figure, out)
    plt.close(figure)
    print(f"wrote {out}")


def floor_rule(floor: float, values, passes, ensemble_of, candidates: list[str], runs: list[dict]) -> dict:
    """Per-fit blankets under ``|partial correlation| ≥ floor`` on top of the test, and what they give:
    each run's mean pairwise Jaccard and consensus, and the consensus Jaccard between runs."""
    member = passes & (np.abs(values) >= floor)
    blankets = [{candidates[c] for c in np.flatnonzero(row)} for row in member]
    consensus, per_seed = [], []
    for index, run in enumerate(runs):
        own = [b for b, e in zip(blankets, ensemble_of) if e == index]
        needed = votes_needed(run["threshold"], len(own))
        consensus.append(sorted(c for c in candidates if sum(c in b for b in own) >= needed))
        per_seed.append(mean_pairwise_jaccard(own))
    agreement = [jaccard(a, b) for a, b in combinations(consensus, 2)]
    size = float(np.mean([len(b) for b in blankets]))
    return {"floor": floor, "size": size, "per_seed": per_seed, "consensus": consensus, "agreement": agreement}


def print_goal_table(rows: list[dict]) -> None:
    """One line per floor against the stability goals of the blanket study (docs/results.md):
    per-seed Jaccard ≥ 0.7 in each run, consensus Jaccard ≥ 0.8 between runs."""
    print(f"\n{'floor':>6s}  {'blanket':>7s}  {'per-seed mean, min':>18s}  runs ≥ {PER_SEED_GOAL}  ", end="")
    print(f"{'consensus min':>13s}  pairs ≥ {CONSENSUS_GOAL}")
    for row in rows:
        per_seed, agreement = row["per_seed"], row["agreement"]
        seeds_met = f"{sum(j >= PER_SEED_GOAL for j in per_seed)}/{len(per_seed)}"
        pairs = f"{sum(j >= CONSENSUS_GOAL for j in agreement)}/{len(agreement)}" if agreement else "-"
        lowest = f"{min(agreement):.2f}" if agreement else "-"
        start = f"{row['floor']:6.2f}  {row['size']:7.1f}  {np.mean(per_seed):12.2f}, {min(per_seed):.2f}"
        print(f"{start}  {seeds_met:>9s}  {lowest:>13s}  {pairs:>10s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--log-odds", nargs="*", default=[], metavar="NAME", help="read these attributes as log-odds")
    parser.add_argument("--floor", nargs="*", type=float, default=[0.0], help="|partial correlation| floors to try")
    parser.add_argument("--out", type=Path, help="write the per-fit partial correlations picture here")
    args = parser.parse_args()
    runs = [consensus_stability(run) for run in args.runs]
    target, candidates = runs[0]["target"], list(runs[0]["blanket_frequency"])
    for path, run in zip(args.runs, runs):
        if run["target"] != target or list(run["blanket_frequency"]) != candidates:
            raise SystemExit(f"{path}: its target or candidates differ from {args.runs[0]}'s; pool like with like")
    values, passes, ensemble_of = [], [], []
    for index, (path, run) in enumerate(zip(args.runs, runs)):
        for member in run["runs"]:
            partial, passed, result = member_partial_correlations(Path(member), target, candidates, args.log_odds)
            values.append(partial)
            passes.append(passed)
            ensemble_of.append(index)
        for name in args.log_odds:
            print(f"{path.name}, first fit: {saturation(result, name)}")
    values, passes, ensemble_of = np.array(values), np.array(passes), np.array(ensemble_of)
    scale = "log-odds of " + ", ".join(args.log_odds) if args.log_odds else "the attributes as stored"
    print(f"\ntarget {target}; {len(values)} fits from {len(runs)} runs; {scale}")
    print(f"{'candidate':28s} {'mean':>7s} {'sd':>6s}  same sign  test passes")
    mean, sd = values.mean(axis=0), values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(len(candidates))
    for c in np.argsort(-np.abs(mean)):
        same = int((np.sign(values[:, c]) == np.sign(mean[c])).sum())
        print(f"{candidates[c]:28s} {mean[c]:+7.3f} {sd[c]:6.3f}  {same:4d}/{len(values):<4d}  {passes[:, c].sum():4d}")
    if args.out:
        picture(
            values, passes, candidates, np.argsort(-np.abs(mean)), f"{target}: {len(values)} fits; {scale}", args.out
        )
    rows = [floor_rule(floor, values, passes, ensemble_of, candidates, runs) for floor in args.floor]
    for row in rows:
        print(f"\nfloor {row['floor']}: per-fit blanket size {row['size']:.1f}")
        print("  mean pairwise Jaccard per run: " + ", ".join(f"{j:.2f}" for j in row["per_seed"]))
        print("  consensus per run: " + "; ".join("{" + ", ".join(c) + "}" for c in row["consensus"]))
        if row["agreement"]:
            print("  consensus Jaccard between runs: " + ", ".join(f"{j:.2f}" for j in row["agreement"]))
    print_goal_table(rows)


if __name__ == "__main__":
    main()
