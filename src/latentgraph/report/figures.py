"""Figures of a run's predictor results (matplotlib ``Figure`` objects: no global backend, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from latentgraph.artifacts import atomic_target
from latentgraph.predictors.experiment import ID_TEST
from latentgraph.predictors.paired import blanket_comparisons


def save_png(figure: Figure, path: Path, dpi: int = 110) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically."""
    with atomic_target(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path


def _labels_axis(axis, ylabel: str, title: str) -> None:
    """An axis over the number of labelled examples (log 2), with its labels and grid."""
    axis.set_xscale("log", base=2)
    axis.set_xlabel("labelled ID training examples")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)


def limited_curve_figure(summary: pd.DataFrame) -> Figure:
    """AUROC against the number of labelled ID examples, one panel per evaluation set."""
    limited = summary[summary["regime"] == "limited"]
    datasets = [ID_TEST, *sorted(set(limited["dataset"]) - {ID_TEST})]
    figure = Figure(figsize=(6 * len(datasets), 4.5))
    axes = figure.subplots(1, len(datasets), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        for feature_set, group in limited[limited["dataset"] == dataset].groupby("feature_set", sort=False):
            if feature_set.startswith("blanket_seed"):  # the ensemble's per-fit blankets: in the differences plot
                continue
            group = group.sort_values("n")
            mean, ci = group["auroc_mean"].to_numpy(), np.nan_to_num(group["auroc_ci95"].to_numpy())
            ours = feature_set in ("markov_blanket", "consensus_blanket")
            style = {"linewidth": 2.5} if ours else {"linewidth": 1, "alpha": 0.8}
            axis.plot(group["n"], mean, marker="o", markersize=3, label=feature_set, **style)
            axis.fill_between(group["n"], mean - ci, mean + ci, alpha=0.12)
        _labels_axis(axis, "AUROC (mean ± 95 % CI over seeds)", dataset)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    return figure


def limited_curve(summary: pd.DataFrame, path: Path) -> Path:
    """:func:`limited_curve_figure`, written to ``path``."""
    return save_png(limited_curve_figure(summary), path)


def paired_difference_figure(differences: pd.DataFrame) -> Figure | None:
    """The blanket's paired AUROC differences against ``all`` and the best baseline, with their 95 %
    bootstrap intervals, against the number of labels; one panel per evaluation set."""
    shown = blanket_comparisons(differences)
    if shown.empty:
        return None
    datasets = [ID_TEST, *sorted(set(shown["dataset"]) - {ID_TEST})]
    figure = Figure(figsize=(6 * len(datasets), 4.5))
    axes = figure.subplots(1, len(datasets), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        rows = shown[shown["dataset"] == dataset]
        comparisons = list(dict.fromkeys(zip(rows["feature_set"], rows["reference"].str.split(" [(]").str[0])))
        for offset, (name, reference) in enumerate(comparisons):
            group = rows[(rows["feature_set"] == name) & rows["reference"].str.startswith(reference)].sort_values("n")
            x = group["n"].to_numpy() * 2 ** (0.08 * (offset - (len(comparisons) - 1) / 2))  # side by side
            error = [group["diff"] - group["low"], group["high"] - group["diff"]]
            axis.errorbar(x, group["diff"], yerr=error, marker="o", capsize=3, label=f"{name} − {reference}")
        axis.axhline(0, color="black", linewidth=0.8)
        _labels_axis(axis, "AUROC difference (95 % bootstrap interval)", dataset)
    axes[0][-1].legend(fontsize=8, loc="best")
    return figure


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
