"""The ensemble and consensus stages (docs/method.md §5b).

``ensemble.size=R`` fits ``R`` autoencoders, seeds ``seed … seed+R−1``. The run's own fit (seed
``seed``) is the run itself, written where a single run writes; the others are the members
under ``ensemble/seed-<s>/``, each fitted, perturbed and graphed through the same stages and the
same stage cache (so a rerun, or a larger ensemble, reuses every member already fitted). By
default the attribute oracles are the run's own, shared by every member, so the attributes mean
the same thing in every graph and only the autoencoders vary. With ``ensemble.oracles=per_member``
member seed ``s`` trains (or reloads) its own classifiers at seed ``s``: a classifier is a fit
too, and its seed moves the target's blanket about as much as the autoencoder's does
(docs/results.md), so the consensus then spans both. ``consensus/`` then holds how often each
attribute edge and each blanket member recurs over the ``R`` graphs, and the consensus blanket.

``stage=consensus runs=[DIR,...]`` builds the same from finished runs' ``graph/`` folders.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger

from latentgraph.atomic import write_json
from latentgraph.config.choices import EmptyBlanket, EnsembleOracles
from latentgraph.config.schema import Config
from latentgraph.data import PreparedData
from latentgraph.errors import ConfigValueError
from latentgraph.graph import AttributeGraph, Consensus, consensus
from latentgraph.models.pretrained import ShippedMember
from latentgraph.pipeline.graph import GraphStageResult, target_columns
from latentgraph.pipeline.oracles import OracleStageResult, oracle_stage
from latentgraph.pipeline.stages import autoencoder_to_graph
from latentgraph.report.graph_figures import stability_picture
from latentgraph.run_layout import ConsensusFiles, RunLayout
from latentgraph.runtime.lineage import declare, declared, keyed_name
from latentgraph.runtime.tracking import RunLog

log = logging.getLogger(__name__)


@dataclass
class ConsensusStageResult:
    """The consensus over the fits, and what the ``consensus_blanket`` predictors use."""

    consensus: Consensus
    features: list[str]  # the consensus blanket, the fallback's attributes, or none (graph.empty_blanket=skip)
    member_dirs: list[str]
    member_features: dict[int, list[str]] = field(default_factory=dict)  # seed → its blanket (or fallback)


def member_dir(run_dir: Path, seed: int) -> Path:
    return RunLayout(run_dir).member(seed).path


def ensemble_stage(
    settings: Config,
    data: PreparedData,
    oracles: OracleStageResult,
    own_graph: GraphStageResult,
    run_dir: Path,
    run_log: RunLog,
    shipped: list[ShippedMember] = (),
    own_shipped: bool = False,
) -> ConsensusStageResult:
    """Fit, perturb and graph the ensemble's other members (and perturb and graph the ``shipped``
    members that join it, :mod:`latentgraph.pipeline.shipped`), then write ``consensus/``;
    ``own_shipped``: the run's own autoencoder is a shipped member too (``model=pretrained``)."""
    size = settings.ensemble.size
    graphs, dirs = [own_graph.graph], [str(run_dir)]
    member_features = {settings.seed: own_graph.features}
    fitted = [(settings.seed + index, None) for index in range(1, size)]
    total = size + len(shipped)
    for index, (seed, source) in enumerate([*fitted, *((m.seed, m) for m in shipped)], start=2):
        out = member_dir(run_dir, seed)
        kind = f"shipped {source.path.name}" if source is not None else "fitted"
        log.info("ensemble: member %d of %d (seed %d, %s) -> %s", index, total, seed, kind, out)
        member = replace(settings, seed=seed)
        # each member's training curves go to its own CSV; W&B gets the consensus, not R sets of curves
        member_log = RunLog([CSVLogger(save_dir=str(out), name=settings.logger.csv.name, version="")])
        if settings.ensemble.oracles == EnsembleOracles.per_member:
            # its own classifiers (metrics/classifiers.json) and attribute set (attributes/set.json)
            member_oracles = oracle_stage(member, data, out, extra=oracles.extra)
        else:
            member_oracles = oracles
            # the shared attribute set's summary, so that a member is a finished run stage=consensus can read
            write_json(RunLayout(out).attributes.set, oracles.summary)
        graph = autoencoder_to_graph(member, data, member_oracles, out, member_log, shipped=source).graph
        member_log.save()
        graphs.append(graph.graph)
        dirs.append(str(out))
        member_features[seed] = graph.features
    return consensus_stage(
        graphs,
        oracles.summary,
        settings,
        RunLayout(run_dir).consensus.path,
        run_log,
        member_dirs=dirs,
        seeds=[*range(settings.seed, settings.seed + size), *(m.seed for m in shipped)],
        member_features=member_features,
        shipped_seeds=[*([settings.seed] if own_shipped else []), *(m.seed for m in shipped)],
    )


def consensus_stage(
    graphs: list[AttributeGraph],
    set_summary: dict,
    settings: Config,
    out_dir: Path,
    run_log: RunLog,
    *,
    member_dirs: list[str],
    seeds: list[int] | None = None,
    member_features: dict[int, list[str]] | None = None,
    shipped_seeds: list[int] = (),
) -> ConsensusStageResult:
    """The consensus of ``graphs`` for the run's target: ``blanket.json``, ``stability.json``, a picture."""
    node, candidates = target_columns(set_summary)
    if node is None:
        raise ConfigValueError(
            "ensemble.size", settings.ensemble.size, f"the attribute set has no oracle for {set_summary['target']!r}"
        )
    result = consensus(graphs, node, settings.ensemble.threshold, candidates=candidates)
    features, fallback = _consensus_features(result, node, candidates, EmptyBlanket(settings.graph.empty_blanket))
    payload = result.to_json()
    files = ConsensusFiles(out_dir)
    write_json(
        files.blanket,
        {
            "target": set_summary["target"],
            "target_node": node,
            "blanket": result.blanket,
            "threshold": result.threshold,
            "n_graphs": result.n_graphs,
            "frequency": payload["blanket_frequency"],
            "features": features,
            "fallback": fallback,
        },
    )
    write_json(files.stability, {**payload, "seeds": seeds, "shipped_seeds": list(shipped_seeds), "runs": member_dirs})
    picture = stability_picture(
        payload, files.stability_picture, over=f"{result.n_graphs} autoencoders", threshold=result.threshold
    )
    _log_consensus(result, node, picture, run_log)
    members = [declared(RunLayout(member).graph.path) for member in member_dirs]
    name = keyed_name("consensus", {"from": members, "threshold": settings.ensemble.threshold})
    declare(out_dir, name, "consensus", members)
    return ConsensusStageResult(result, features, member_dirs, member_features or {})


def _consensus_features(
    result: Consensus, node: str, candidates: list[str], policy: EmptyBlanket
) -> tuple[list[str], str | None]:
    """The consensus_blanket predictors' features and the fallback taken (``graph.empty_blanket``)."""
    if result.blanket:
        return result.blanket, None
    reason = f"no attribute reaches frequency {result.threshold} in the blanket of {node!r}"
    if policy == EmptyBlanket.fail:
        raise ConfigValueError("graph.empty_blanket", "fail", f"{reason}; set graph.empty_blanket=skip to go on")
    if policy == EmptyBlanket.all:
        log.warning("consensus: %s; the consensus_blanket predictors use all %d attributes", reason, len(candidates))
        return list(candidates), "all"
    log.warning("consensus: %s; the consensus_blanket comparisons are skipped", reason)
    return [], None


def _log_consensus(result: Consensus, node: str, picture: Path, run_log: RunLog) -> None:
    """The consensus in the log line, and its agreement, picture and frequencies to W&B."""
    log.info(
        "consensus over %d autoencoders: blanket of %s %s; mean pairwise Jaccard of their blankets %.2f "
        "(random blankets of the same sizes: %.2f); a second ensemble of %d should reach a consensus Jaccard "
        "of about %.2f with this one (bootstrap over the fits)",
        result.n_graphs,
        node,
        result.blanket or "empty",
        result.mean_jaccard,
        result.chance_jaccard,
        result.n_graphs,
        result.expected_reproducibility,
    )
    _log_uncertain_members(result)
    run_log.metrics(result.agreement_metrics())
    run_log.image("consensus/stability", picture)
    run_log.summary(
        {
            "consensus/blanket": ", ".join(result.blanket),
            **{f"consensus/blanket_frequency/{a}": f for a, f in result.blanket_frequency.items()},
            **{f"consensus/partial_correlation/{a}": p["mean"] for a, p in result.partial_correlation_summary.items()},
        }
    )


def _log_uncertain_members(result: Consensus) -> None:
    """One line per candidate a second ensemble may flip (inclusion probability in (0.1, 0.9)),
    with its partial correlation over the fits where the graphs have them."""
    summary = result.partial_correlation_summary
    for name, probability in result.inclusion_probability.items():
        if not 0.1 < probability < 0.9:
            continue
        votes = round(result.blanket_frequency[name] * result.n_graphs)
        detail = ""
        if name in summary:
            s = summary[name]
            detail = (
                f"; partial correlation with {result.target} {s['mean']:+.3f} ± {s['sd']:.3f}, on the mean's "
                f"side of 0 in {round(s['same_sign'] * result.n_graphs)} of {result.n_graphs} fits"
            )
        log.info(
            "consensus: %s is in %d of %d blankets, so a second ensemble keeps it with probability %.2f%s",
            name,
            votes,
            result.n_graphs,
            probability,
            detail,
        )


def finished_run_graphs(runs: list[str]) -> tuple[list[AttributeGraph], dict]:
    """The graphs and the (common) attribute-set summary of finished runs, for ``stage=consensus``."""
    graphs, summaries = [], []
    for run in runs:
        layout = RunLayout(run)
        set_file = layout.attributes.set
        if not set_file.is_file() and layout.graph.source.is_file():  # a stage=graph rebuild
            set_file = RunLayout(json.loads(layout.graph.source.read_text())["run_dir"]).attributes.set
        if not layout.graph.graph.is_file() or not set_file.is_file():
            raise ConfigValueError("runs", run, "holds no graph/graph.json and attributes/set.json (a finished run?)")
        graphs.append(AttributeGraph.load(layout.graph.path))
        summaries.append(json.loads(set_file.read_text()))
    first = summaries[0]
    for run, summary in zip(runs[1:], summaries[1:]):
        for key in ("target", "features_for_target"):
            if summary.get(key) != first.get(key):
                raise ConfigValueError(
                    "runs", run, f"its {key} {summary.get(key)!r} differs from {runs[0]}'s {first.get(key)!r}"
                )
    return graphs, first
