"""Figures of a run's predictor results (matplotlib ``Figure`` objects: no global backend, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from latentgraph.artifacts import atomic_target
from latentgraph.predictors.experiment import ID_TEST


def save_png(figure: Figure, path: Path, dpi: int = 110) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically."""
    with atomic_target(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path


def limited_curve_figure(summary: pd.DataFrame) -> Figure:
    """AUROC against the number of labelled ID examples, one panel per evaluation set."""
    limited = summary[summary["regime"] == "limited"]
    datasets = [ID_TEST, *sorted(set(limited["dataset"]) - {ID_TEST})]
    figure = Figure(figsize=(6 * len(datasets), 4.5))
    axes = figure.subplots(1, len(datasets), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        for feature_set, group in limited[limited["dataset"] == dataset].groupby("feature_set", sort=False):
            group = group.sort_values("n")
            mean, ci = group["auroc_mean"].to_numpy(), np.nan_to_num(group["auroc_ci95"].to_numpy())
            style = {"linewidth": 2.5} if feature_set == "markov_blanket" else {"linewidth": 1, "alpha": 0.8}
            axis.plot(group["n"], mean, marker="o", markersize=3, label=feature_set, **style)
            axis.fill_between(group["n"], mean - ci, mean + ci, alpha=0.12)
        axis.set_xscale("log", base=2)
        axis.set_xlabel("labelled ID training examples")
        axis.set_ylabel("AUROC (mean ± 95 % CI over seeds)")
        axis.set_title(dataset)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    return figure


def limited_curve(summary: pd.DataFrame, path: Path) -> Path:
    """:func:`limited_curve_figure`, written to ``path``."""
    return save_png(limited_curve_figure(summary), path)


def fewshot_figure(summary: pd.DataFrame) -> Figure | None:
    """Few-shot AUROC against k, one line per feature set, one panel per OOD set (``None``: no few-shot rows)."""
    fewshot = summary[summary["regime"] == "fewshot"]
    if fewshot.empty:
        return None
    datasets = list(dict.fromkeys(fewshot["dataset"]))
    figure = Figure(figsize=(6 * len(datasets), 4))
    axes = figure.subplots(1, len(datasets), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        for feature_set, group in fewshot[fewshot["dataset"] == dataset].groupby("feature_set", sort=False):
            group = group.sort_values("n")
            axis.errorbar(
                group["n"],
                group["auroc_mean"],
                yerr=group["auroc_ci95"].fillna(0),
                marker="o",
                capsize=2,
                label=feature_set,
                linewidth=2.5 if feature_set == "markov_blanket" else 1,
            )
        axis.set_xscale("log", base=2)
        axis.set_xlabel("OOD examples used for fine-tuning (k)")
        axis.set_ylabel("AUROC on the rest of the OOD set")
        axis.set_title(dataset)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    return figure
