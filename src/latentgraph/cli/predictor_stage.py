"""The predictor stage: attribute features for every split, feature sets, regimes, results/."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from latentgraph.artifacts import atomic_target, atomic_write_text, write_json  # noqa: E402
from latentgraph.attributes.sets import AttributeSet  # noqa: E402
from latentgraph.cli.graph_stage import read_blanket_report  # noqa: E402
from latentgraph.data import PreparedData  # noqa: E402
from latentgraph.perturbation.protocol import Autoencoder  # noqa: E402
from latentgraph.predictors.experiment import (ID_TEST, REGIMES, Labelled, PredictorData,  # noqa: E402
                                               PredictorSettings, choose_feature_sets, ood_drop, run_regimes,
                                               summarise)

log = logging.getLogger(__name__)


def _labelled(features: AttributeSet, frame: pd.DataFrame, target: str, what: str) -> Labelled:
    """Attribute values and labels of a labelled frame; unscorable rows are dropped and counted."""
    x = features(list(frame["sequence"]))
    y = torch.tensor(frame[target].to_numpy(), dtype=torch.long)
    keep = torch.isfinite(x).all(dim=1)
    if not bool(keep.all()):
        log.warning("predictors: %s: %d of %d sequences could not be scored and are left out", what,
                    int((~keep).sum()), len(keep))
    return Labelled(x[keep], y[keep])


def prior_samples(autoencoder: Autoencoder, attributes: AttributeSet, target: str, n: int, seed: int,
                  batch_size: int = 4096) -> tuple[Labelled | None, str | None]:
    """Decodes of ``n`` prior codes: feature values, labelled by the target oracle (probability > 0.5)."""
    try:
        oracle = attributes.oracle(target)
    except KeyError as error:
        return None, f"unsupervised regime skipped: {error.args[0]}"
    features = attributes.features_for(target)
    generator = torch.Generator().manual_seed(seed)
    sequences: list[str] = []
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            codes = autoencoder.sample_prior(min(batch_size, n - start), generator=generator)
            sequences += autoencoder.decode(codes)
    x, p = features(sequences).clone(), oracle(sequences)[:, 0].clone()
    keep = torch.isfinite(x).all(dim=1) & torch.isfinite(p)
    y = (p[keep] > 0.5).long()
    if y.unique().numel() < 2:
        return None, f"unsupervised regime skipped: the {target} oracle labels all {len(y)} prior decodes alike"
    log.info("predictors: %d prior decodes (%d unscorable) labelled by the %s oracle: %.1f %% positive",
             int(keep.sum()), int((~keep).sum()), target, 100 * float(y.float().mean()))
    return Labelled(x[keep], y), None


def run_predictor_stage(cfg: DictConfig, data: PreparedData, attributes: AttributeSet, autoencoder: Autoencoder,
                        run_dir: Path) -> dict[str, float]:
    """Train and evaluate every feature set × regime × seed; write ``results/``; print the summary."""
    target = data.target
    features = attributes.features_for(target)
    names = features.names
    out = run_dir / "results"
    pdata = PredictorData(
        names=names, train=_labelled(features, data.id_train, target, "ID train"),
        val=_labelled(features, data.id_val, target, "ID val"), test=_labelled(features, data.id_test, target, "ID test"),
        ood={name: _labelled(features, frame, target, name) for name, frame in data.ood.items() if target in frame},
    )
    regimes = list(REGIMES) if cfg.predictor.regime == "all" else [cfg.predictor.regime]
    if "unsupervised" in regimes:
        pdata.prior, note = prior_samples(autoencoder, attributes, target, cfg.predictor.prior_samples, cfg.seed)
        if note:
            pdata.notes["unsupervised"] = note
            log.warning("predictors: %s", note)

    wanted = list(cfg.predictor.feature_sets)
    report = read_blanket_report(run_dir)
    blanket = report["features"] if report else None
    if blanket is None and "markov_blanket" in wanted:
        wanted.remove("markov_blanket")
        pdata.notes["markov_blanket"] = "skipped: no graph/blanket.json (perturbation.enabled=false?)"
        log.warning("predictors: markov_blanket %s", pdata.notes["markov_blanket"])
    sets = choose_feature_sets(pdata, blanket if blanket is not None else names, wanted, seed=cfg.seed)
    settings = PredictorSettings(
        model=cfg.predictor.model, seeds=cfg.predictor.seeds, regimes=regimes,
        fewshot_k=list(cfg.predictor.fewshot_k), limited_n=list(cfg.predictor.limited_n),
        max_steps=cfg.predictor.max_steps, patience=cfg.predictor.patience, lr=cfg.predictor.lr,
        fewshot_steps=cfg.predictor.fewshot_steps, fewshot_lr=cfg.predictor.fewshot_lr)
    write_json(out / "features.json", {
        "attributes": names, "blanket": blanket, "notes": pdata.notes,
        "feature_sets": {name: ([chosen(seed) for seed in range(settings.seeds)] if callable(chosen) else chosen)
                         for name, chosen in sets.items()},
        "settings": OmegaConf.to_container(cfg.predictor, resolve=True),
    })

    with Progress(disable=not cfg.trainer.enable_progress_bar) as progress:
        task = progress.add_task("predictors: feature set × seed", total=len(sets) * settings.seeds)
        results = run_regimes(pdata, sets, settings, progress=lambda: progress.advance(task))
    summary = summarise(results)
    drops = ood_drop(summary)
    atomic_write_text(out / "metrics.csv", results.to_csv(index=False))
    write_json(out / "metrics.json", results.to_dict(orient="records"))
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(out / "ood_drop.csv", drops.to_csv(index=False))
    curve = limited_curve(summary, out / "limited_curve.png") if "limited" in regimes else None
    print_summary(drops, summary)
    _log_to_wandb(summary, drops, curve)
    return headline_metrics(drops)


def headline_metrics(drops: pd.DataFrame) -> dict[str, float]:
    """``predictors/<feature set>/<regime>/<OOD set>/ood_auroc`` and ``.../id_auroc`` (the W&B summary keys)."""
    metrics = {}
    for row in drops.itertuples():
        metrics[f"predictors/{row.feature_set}/{row.regime}/{row.dataset}/ood_auroc"] = float(row.ood_auroc)
        metrics[f"predictors/{row.feature_set}/{row.regime}/id_auroc"] = float(row.id_auroc)
    return metrics


def limited_curve(summary: pd.DataFrame, path: Path) -> Path:
    """AUROC against the number of labelled ID examples, one panel per evaluation set."""
    limited = summary[summary["regime"] == "limited"]
    datasets = [ID_TEST, *sorted(set(limited["dataset"]) - {ID_TEST})]
    figure, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
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
    with atomic_target(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def print_summary(drops: pd.DataFrame, summary: pd.DataFrame, console: Console | None = None) -> None:
    """A rich table: ID and OOD AUROC (mean ± 95 % CI) and the OOD drop, per feature set and regime."""
    table = Table(title="predictors: AUROC mean ± 95% CI over seeds")
    for column in ("feature set", "regime", "ID test", "OOD set", "OOD", "drop"):
        table.add_column(column, justify="left" if column in ("feature set", "regime", "OOD set") else "right",
                         no_wrap=True)
    for row in drops.itertuples():
        table.add_row(row.feature_set, row.regime, f"{row.id_auroc:.3f}±{row.id_ci95:.3f}", row.dataset,
                      f"{row.ood_auroc:.3f}±{row.ood_ci95:.3f}", f"{row.drop:+.3f}")
    (console or Console()).print(table)
    fewshot = summary[summary["regime"] == "fewshot"]
    if len(fewshot):
        pivot = fewshot.pivot_table(index="feature_set", columns="n", values="auroc_mean", sort=False)
        log.info("few-shot AUROC on the rest of each OOD set, by k:\n%s", pivot.round(3).to_string())


def _log_to_wandb(summary: pd.DataFrame, drops: pd.DataFrame, curve: Path | None = None) -> None:
    try:
        import wandb
    except ImportError:  # pragma: no cover
        return
    if wandb.run is None:
        return
    wandb.run.log({"predictors/summary": wandb.Table(dataframe=summary),
                   "predictors/ood_drop": wandb.Table(dataframe=drops)})
    if curve is not None and curve.is_file():
        wandb.run.log({"predictors/limited_curve": wandb.Image(str(curve))})
    for key, value in headline_metrics(drops).items():
        wandb.run.summary[key] = value
