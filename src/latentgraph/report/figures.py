"""Figures of a run's predictor results (matplotlib ``Figure`` objects: no global backend, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from latentgraph.atomic import atomic_target
from latentgraph.predictors.labelled import ID_TEST


def save_png(figure: Figure, path: Path, dpi: int = 110) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically."""
    with atomic_target(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path


def _log2_axis(axis, rows: pd.DataFrame) -> bool:
    """Put ``axis``'s x on a log-2 scale when ``rows`` hold a finite AUROC; otherwise say on the panel
    that the set has no scores (too few rows for the regime, or one class) and leave it linear.
    Returns whether there was anything to draw."""
    if np.isfinite(rows["auroc_mean"].to_numpy(dtype=float)).any() and (rows["n"] > 0).any():
        axis.set_xscale("log", base=2)
        return True
    axis.text(0.5, 0.5, "no scores: too few rows or one class", ha="center", va="center", transform=axis.transAxes)
    axis.set_xticks([])
    return False


def _labels_axis(axis, ylabel: str, title: str, rows: pd.DataFrame) -> None:
    """An axis over the number of labelled examples (log 2), with its labels and grid."""
    _log2_axis(axis, rows)
    axis.set_xlabel("labelled ID training examples")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)


def limited_curve_figure(summary: pd.DataFrame) -> Figure | None:
    """AUROC against the number of labelled ID examples, one panel per evaluation set (``None``: no
    limited-regime rows, e.g. every ``predictor.limited_n`` at least the training rows)."""
    limited = summary[summary["regime"] == "limited"]
    if limited.empty:
        return None
    datasets = [ID_TEST, *sorted(set(limited["dataset"]) - {ID_TEST})]
    figure = Figure(figsize=(6 * len(datasets), 4.5))
    axes = figure.subplots(1, len(datasets), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        for feature_set, group in limited[limited["dataset"] == dataset].groupby("feature_set", sort=False):
            if feature_set.startswith("blanket_seed"):  # the ensemble's per-fit blankets: in the differences plot
                continue
            group = group.sort_values("n")
            mean = group["auroc_mean"].to_numpy()
            ours = feature_set in ("markov_blanket", "consensus_blanket")
            style = {"linewidth": 2.5} if ours else {"linewidth": 1, "alpha": 0.8}
            axis.plot(group["n"], mean, marker="o", markersize=3, label=feature_set, **style)
            axis.fill_between(group["n"], group["auroc_low"], group["auroc_high"], alpha=0.12)
        _labels_axis(
            axis, "AUROC (mean, 95 % crossed-bootstrap interval)", dataset, limited[limited["dataset"] == dataset]
        )
    axes[0][-1].legend(fontsize=8, loc="lower right")
    return figure


def limited_curve(summary: pd.DataFrame, path: Path) -> Path | None:
    """:func:`limited_curve_figure`, written to ``path`` (``None``: nothing to draw, no file)."""
    figure = limited_curve_figure(summary)
    return None if figure is None else save_png(figure, path)


VERDICT_COLOURS = {"better": "tab:green", "worse": "tab:red", "no detectable difference": "tab:grey"}


def forest_figure(comparisons: pd.DataFrame, datasets: list[str] | None = None) -> Figure | None:
    """A forest plot of the fixed comparisons: one row per blanket − reference at each ``n`` (the
    limited regime, then the supervised one), its paired AUROC difference and 95 % interval against
    a line at 0, coloured by the Holm-adjusted verdict; one panel per evaluation set (OOD sets first)."""
    if comparisons.empty:
        return None
    present = list(dict.fromkeys(comparisons["dataset"]))
    datasets = [d for d in (datasets or [*[d for d in present if d != ID_TEST], ID_TEST]) if d in present]
    order = comparisons.assign(regime_order=comparisons["regime"].map({"limited": 0, "supervised": 1}))
    keys = list(
        dict.fromkeys(
            order.sort_values(["regime_order", "n"], kind="stable")[["regime", "n", "blanket", "reference"]].itertuples(
                index=False, name=None
            )
        )
    )
    labels = [
        f"{'n=' + str(n) if regime == 'limited' else 'all labels'}: {blanket} − {reference}"
        for regime, n, blanket, reference in keys
    ]
    figure = Figure(figsize=(4.2 * len(datasets) + 3.2, 0.24 * len(keys) + 1.4), layout="constrained")
    axes = figure.subplots(1, len(datasets), squeeze=False, sharey=True)
    for axis, dataset in zip(axes[0], datasets):
        rows = comparisons[comparisons["dataset"] == dataset].set_index(["regime", "n", "blanket", "reference"])
        for y, key in enumerate(keys):
            if key not in rows.index:
                continue
            row = rows.loc[key]
            colour = VERDICT_COLOURS.get(row["verdict"], "black")
            axis.plot([row["low"], row["high"]], [y, y], color=colour, linewidth=1.6)
            axis.plot([row["diff"]], [y], marker="s", color=colour, markersize=4)
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_title(dataset)
        axis.set_xlabel("AUROC difference (95 % interval)")
        axis.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(keys)), labels, fontsize=7)
    axes[0][0].invert_yaxis()
    handles = [axes[0][0].plot([], [], color=c, linewidth=2, label=v)[0] for v, c in VERDICT_COLOURS.items()]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return figure


def fits_strip_figure(per_fit: pd.DataFrame, own_seed: int | None = None) -> Figure | None:
    """Each fit's own blanket − all (``per_fit``: seed, regime, dataset, n, diff), one row per n and
    one point per fit, the run's own fit (``own_seed``) drawn as a red star; one panel per
    evaluation set (OOD sets first). ``None`` without per-fit rows."""
    if per_fit.empty:
        return None
    present = list(dict.fromkeys(per_fit["dataset"]))
    datasets = [*[d for d in present if d != ID_TEST], *([ID_TEST] if ID_TEST in present else [])]
    order = per_fit.assign(_o=per_fit["regime"].map({"limited": 0, "supervised": 1})).sort_values(["_o", "n"])
    keys = list(dict.fromkeys(order[["regime", "n"]].itertuples(index=False, name=None)))
    labels = [f"n={n}" if regime == "limited" else "all labels" for regime, n in keys]
    figure = Figure(figsize=(4.2 * len(datasets) + 1.2, 0.45 * len(keys) + 1.4), layout="constrained")
    axes = figure.subplots(1, len(datasets), squeeze=False, sharey=True)
    for axis, dataset in zip(axes[0], datasets):
        rows = per_fit[per_fit["dataset"] == dataset]
        for y, (regime, n) in enumerate(keys):
            at = rows[(rows["regime"] == regime) & (rows["n"] == n)]
            others = at[at["seed"] != own_seed]
            axis.plot(others["diff"], [y] * len(others), "o", color="tab:blue", alpha=0.6, markersize=5)
            axis.plot([at["diff"].mean()] * 2, [y - 0.3, y + 0.3], color="black", linewidth=1.5)
            mine = at[at["seed"] == own_seed]
            axis.plot(mine["diff"], [y] * len(mine), "*", color="tab:red", markersize=11)
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_title(dataset)
        axis.set_xlabel("each fit's blanket − all (AUROC)")
        axis.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(keys)), labels)
    axes[0][0].invert_yaxis()
    handles = [
        axes[0][0].plot([], [], "*", color="tab:red", markersize=11, label="this run's fit")[0],
        axes[0][0].plot([], [], "o", color="tab:blue", alpha=0.6, label="the other fits")[0],
        axes[0][0].plot([], [], color="black", label="mean over the fits")[0],
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
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
                yerr=[group["auroc_mean"] - group["auroc_low"], group["auroc_high"] - group["auroc_mean"]],
                marker="o",
                capsize=2,
                label=feature_set,
                linewidth=2.5 if feature_set == "markov_blanket" else 1,
            )
        _log2_axis(axis, fewshot[fewshot["dataset"] == dataset])
        axis.set_xlabel("OOD examples used for fine-tuning (k)")
        axis.set_ylabel("AUROC on the rest of the OOD set")
        axis.set_title(dataset)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    return figure
