"""The report stage: the run's headline numbers (``metrics/summary.json``) and ``report.html``."""

from __future__ import annotations

import logging
from pathlib import Path

from latentgraph.atomic import write_json
from latentgraph.pipeline.ensemble import ConsensusStageResult
from latentgraph.pipeline.graph import GraphStageResult
from latentgraph.report.html import write_report
from latentgraph.report.verdict import read_verdict
from latentgraph.run_layout import RunLayout

log = logging.getLogger(__name__)


def run_summary(
    metrics: dict[str, float],
    graph: GraphStageResult | None,
    run_dir: Path,
    ensemble: ConsensusStageResult | None = None,
) -> dict[str, float]:
    """``metrics/summary.json``: the run's headline numbers under the keys the W&B summary uses."""
    metrics = dict(metrics)
    if graph is not None:
        metrics["graph/blanket_size"] = float(len(graph.blanket["blanket"]))
    if ensemble is not None:
        metrics.update(ensemble.consensus.agreement_metrics())
    write_json(RunLayout(run_dir).metrics.summary, metrics)
    return metrics


def report_stage(run_dir: Path, config_yaml: str | None = None) -> Path:
    """``report.html`` from the run directory's files (the page is also the way to look at an old run);
    the run's verdict, which opens the page, is logged as the run's last lines."""
    path = write_report(run_dir, config_yaml)
    verdict = read_verdict(run_dir)
    for line in verdict.lines() if verdict is not None else []:
        log.info("verdict: %s", line)
    log.info("report: %s", path)
    return path
