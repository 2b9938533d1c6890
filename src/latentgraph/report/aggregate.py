"""Collect a multirun's per-job results into one table and one comparison plot.

A job is a directory of the sweep holding ``.hydra/overrides.yaml``; it is labelled by its
overrides (``graph.alpha=0.01 seed=1``). A job without ``results/summary.csv`` (it failed or is
still running) is listed as missing, never silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from matplotlib.figure import Figure

from latentgraph.atomic import atomic_target, atomic_write_text  # noqa: E402
from latentgraph.run_layout import RunLayout, SweepLayout


@dataclass
class Aggregate:
    summary: pd.DataFrame  # every job's results/summary.csv rows, with job and overrides columns
    missing: list[str] = field(default_factory=list)  # job labels without results


def job_label(job_dir: Path) -> str:
    overrides = yaml.safe_load(RunLayout(job_dir).overrides.read_text()) or []
    return " ".join(str(o) for o in overrides) or job_dir.name


def collect(sweep_dir: str | Path) -> Aggregate:
    """Every job of a multirun directory: its summary rows, or its name among the missing."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir} is not a directory")
    jobs = [run.path for run in SweepLayout(sweep_dir).jobs()]
    if not jobs:
        raise FileNotFoundError(f"{sweep_dir} holds no Hydra job directories (no */.hydra/overrides.yaml)")
    frames, missing = [], []
    for job in jobs:
        label = job_label(job)
        summary = RunLayout(job).results.summary
        if summary.is_file():
            frames.append(pd.read_csv(summary).assign(job=job.name, overrides=label))
        else:
            missing.append(f"{job.name}: {label}")
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Aggregate(table, missing)


def write_aggregate(aggregate: Aggregate, out_dir: str | Path) -> list[Path]:
    """``aggregate.csv``, ``missing_jobs.txt`` (if any; an earlier one goes) and ``aggregate.png`` in ``out_dir``."""
    out = SweepLayout(out_dir)
    written = [atomic_write_text(out.aggregate, aggregate.summary.to_csv(index=False))]
    if aggregate.missing:
        written.append(atomic_write_text(out.missing_jobs, "\n".join(aggregate.missing) + "\n"))
    else:  # a rerun that finished every job: the earlier list would name jobs that now have results
        out.missing_jobs.unlink(missing_ok=True)
    if len(aggregate.summary):
        written.append(comparison_plot(aggregate.summary, out.aggregate_picture))
    return written


def comparison_plot(summary: pd.DataFrame, path: Path) -> Path:
    """Supervised AUROC (mean ± 95 % CI) per feature set, one bar per job, one panel per dataset."""
    main = summary[summary["regime"] == "supervised"]
    datasets = list(dict.fromkeys(main["dataset"]))
    jobs = list(dict.fromkeys(main["overrides"]))
    figure = Figure(figsize=(7 * max(len(datasets), 1), 4.5))
    axes = figure.subplots(1, max(len(datasets), 1), squeeze=False)
    width = 0.8 / max(len(jobs), 1)
    for axis, dataset in zip(axes[0], datasets):
        rows = main[main["dataset"] == dataset]
        sets = list(dict.fromkeys(rows["feature_set"]))
        for i, job in enumerate(jobs):
            part = rows[rows["overrides"] == job].set_index("feature_set").reindex(sets)
            axis.bar(
                [x + i * width for x in range(len(sets))],
                part["auroc_mean"],
                width,
                yerr=[part["auroc_mean"] - part["auroc_low"], part["auroc_high"] - part["auroc_mean"]],
                label=job,
                capsize=2,
            )
        axis.set_xticks([x + 0.4 - width / 2 for x in range(len(sets))], sets, rotation=45, ha="right")
        axis.set_ylim(0.4, 1.0)
        axis.set_ylabel("AUROC (supervised)")
        axis.set_title(dataset)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    with atomic_target(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path
