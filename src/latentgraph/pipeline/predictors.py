"""The predictor stage: attribute features for every split, feature sets, regimes, ``results/``.

Behind the stage cache: the results are reused when the data, the attribute set, the WAE, the
blanket and the predictor settings are all unchanged.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from latentgraph.artifacts import atomic_write_text, write_json
from latentgraph.attributes.sets import AttributeSet
from latentgraph.config.choices import FeatureSet, Regime, RegimeChoice
from latentgraph.config.schema import Config
from latentgraph.data import PreparedData
from latentgraph.perturbation.protocol import Autoencoder
from latentgraph.pipeline.cache import predictor_key, stage_cache
from latentgraph.pipeline.oracles import OracleStageResult
from latentgraph.pipeline.tracking import RunLog
from latentgraph.predictors.experiment import (
    ID_VAL,
    Labelled,
    PredictorData,
    PredictorSettings,
    choose_feature_sets,
    ood_drop,
    read_ood_drop,
    run_regimes,
    summarise,
)
from latentgraph.predictors.paired import blanket_comparisons, study_differences
from latentgraph.report.figures import limited_curve, paired_difference_figure, save_png

log = logging.getLogger(__name__)

RESULT_FILES = (
    "metrics.csv",
    "metrics.json",
    "summary.csv",
    "ood_drop.csv",
    "paired_differences.csv",
    "paired_differences.png",
    "features.json",
    "limited_curve.png",
)


def predictor_stage(
    settings: Config,
    data: PreparedData,
    oracles: OracleStageResult,
    autoencoder: Autoencoder,
    blanket: list[str] | None,
    run_dir: Path,
    run_log: RunLog,
    consensus_blanket: list[str] | None = None,
    member_blankets: dict[int, list[str]] | None = None,
) -> dict[str, float]:
    """Every feature set × regime × seed, or the results reused when nothing they depend on changed.

    Args:
        blanket: the graph stage's features for ``markov_blanket`` (``None``: no graph was built).
        consensus_blanket: the ensemble's features for ``consensus_blanket`` (``None``: one autoencoder).
        member_blankets: each ensemble member's blanket (seed → features), evaluated as the feature
            sets ``blanket_seed<s>`` for the per-seed comparison.
    """
    cache = stage_cache(settings)
    key = predictor_key(settings, oracles.classifiers, blanket, consensus_blanket, member_blankets)
    out = run_dir / "results"
    hit = cache.lookup("predictors", key)
    if hit is not None:
        log.info("stage predictors: reused from cache key %s (same data, attributes, WAE, blanket and settings)", key)
        out.mkdir(parents=True, exist_ok=True)
        for name in RESULT_FILES:
            if (hit / name).is_file():
                shutil.copyfile(hit / name, out / name)
        drops, summary = read_ood_drop(out / "ood_drop.csv"), pd.read_csv(out / "summary.csv")
    else:
        log.info("stage predictors: computing (key %s)", key)
        drops, summary = run_predictors(
            settings,
            data,
            oracles.attributes,
            autoencoder,
            blanket,
            out,
            consensus_blanket=consensus_blanket,
            member_blankets=member_blankets,
        )
        with cache.store("predictors", key) as entry:
            for name in RESULT_FILES:
                if (out / name).is_file():
                    shutil.copyfile(out / name, entry / name)
    print_summary(drops, summary)
    log_results(run_log, summary, drops, out / "limited_curve.png")
    return {**headline_metrics(drops), **validation_metrics(summary)}


def _labelled(features: AttributeSet, frame: pd.DataFrame, target: str, what: str) -> Labelled:
    """Attribute values and labels of a labelled frame; unscorable rows are dropped and counted."""
    x = features(list(frame["sequence"]))
    y = torch.tensor(frame[target].to_numpy(), dtype=torch.long)
    keep = torch.isfinite(x).all(dim=1)
    if not bool(keep.all()):
        log.warning(
            "predictors: %s: %d of %d sequences could not be scored and are left out",
            what,
            int((~keep).sum()),
            len(keep),
        )
    return Labelled(x[keep], y[keep])


def prior_samples(
    autoencoder: Autoencoder, attributes: AttributeSet, target: str, n: int, seed: int, batch_size: int = 4096
) -> tuple[Labelled | None, str | None]:
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
    log.info(
        "predictors: %d prior decodes (%d unscorable) labelled by the %s oracle: %.1f %% positive",
        int(keep.sum()),
        int((~keep).sum()),
        target,
        100 * float(y.float().mean()),
    )
    return Labelled(x[keep], y), None


def run_predictors(
    settings: Config,
    data: PreparedData,
    attributes: AttributeSet,
    autoencoder: Autoencoder,
    blanket: list[str] | None,
    out: Path,
    consensus_blanket: list[str] | None = None,
    member_blankets: dict[int, list[str]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and evaluate every feature set × regime × seed; write ``out`` (``results/``)."""
    config = settings.predictor
    target = data.target
    features = attributes.features_for(target)
    names = features.names
    pdata = PredictorData(
        names=names,
        train=_labelled(features, data.id_train, target, "ID train"),
        val=_labelled(features, data.id_val, target, "ID val"),
        test=_labelled(features, data.id_test, target, "ID test"),
        ood={name: _labelled(features, frame, target, name) for name, frame in data.ood.items() if target in frame},
    )
    regimes = Regime.values() if config.regime == RegimeChoice.all else (str(config.regime),)
    if Regime.unsupervised in regimes:
        pdata.prior, note = prior_samples(autoencoder, attributes, target, config.prior_samples, settings.seed)
        if note:
            pdata.notes["unsupervised"] = note
            log.warning("predictors: %s", note)

    wanted = [str(name) for name in config.feature_sets]
    if blanket is None and FeatureSet.markov_blanket in wanted:
        wanted.remove(FeatureSet.markov_blanket)
        pdata.notes["markov_blanket"] = "skipped: no graph/blanket.json (perturbation.enabled=false?)"
        log.warning("predictors: markov_blanket %s", pdata.notes["markov_blanket"])
    if consensus_blanket is None and FeatureSet.consensus_blanket in wanted:
        wanted.remove(FeatureSet.consensus_blanket)
        pdata.notes["consensus_blanket"] = "skipped: one autoencoder (ensemble.size=1)"
        log.info("predictors: consensus_blanket %s", pdata.notes["consensus_blanket"])
    sets = choose_feature_sets(
        pdata,
        blanket if blanket is not None else names,
        wanted,
        seed=settings.seed,
        consensus_blanket=consensus_blanket,
    )
    seed_sets = {seed: f"blanket_seed{seed}" for seed in sorted(member_blankets or {})}
    for seed, name in seed_sets.items():
        sets[name] = list(member_blankets[seed])
    predictor = PredictorSettings(
        model=str(config.model),
        seeds=config.seeds,
        regimes=list(regimes),
        fewshot_k=list(config.fewshot_k),
        limited_n=list(config.limited_n),
        limited_subsamples=config.limited_subsamples,
        limited_c=config.limited_c,
        max_steps=config.max_steps,
        patience=config.patience,
        lr=config.lr,
        fewshot_steps=config.fewshot_steps,
        fewshot_lr=config.fewshot_lr,
    )
    write_json(
        out / "features.json",
        {
            "attributes": names,
            "blanket": blanket,
            "consensus_blanket": consensus_blanket,
            "notes": pdata.notes,
            "feature_sets": {
                name: ([chosen(seed) for seed in range(predictor.seeds)] if callable(chosen) else chosen)
                for name, chosen in sets.items()
            },
            "settings": asdict(config),
        },
    )

    with Progress(disable=not settings.trainer.enable_progress_bar) as progress:
        task = progress.add_task("predictors: feature set × seed", total=len(sets) * predictor.seeds)
        results = run_regimes(pdata, sets, predictor, progress=lambda: progress.advance(task))
    summary = summarise(results)
    drops = ood_drop(summary)
    atomic_write_text(out / "metrics.csv", results.to_csv(index=False))
    write_json(out / "metrics.json", results.to_dict(orient="records"))
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(out / "ood_drop.csv", drops.to_csv(index=False))
    if Regime.limited in regimes:
        differences = study_differences(results, seed_sets=seed_sets, seed=settings.seed)
        atomic_write_text(out / "paired_differences.csv", differences.to_csv(index=False))
        log_differences(differences)
        figure = paired_difference_figure(differences)
        if figure is not None:
            save_png(figure, out / "paired_differences.png")
    if Regime.limited in regimes:
        limited_curve(summary, out / "limited_curve.png")
    return drops, summary


def log_differences(differences: pd.DataFrame) -> None:
    """The blanket comparisons at each n, in the log (the whole table is results/paired_differences.csv)."""
    keep = blanket_comparisons(differences)
    for row in keep.itertuples():
        log.info(
            "limited, %s, n=%d: %s − %s AUROC %+.3f [%+.3f, %+.3f] (%d pairs)",
            row.dataset,
            row.n,
            row.feature_set,
            row.reference,
            row.diff,
            row.low,
            row.high,
            row.pairs,
        )


def headline_metrics(drops: pd.DataFrame) -> dict[str, float]:
    """``predictors/<feature set>/<regime>/<OOD set>/ood_auroc`` and ``.../id_auroc`` (the W&B summary keys)."""
    metrics = {}
    for row in drops.itertuples():
        metrics[f"predictors/{row.feature_set}/{row.regime}/{row.dataset}/ood_auroc"] = float(row.ood_auroc)
        metrics[f"predictors/{row.feature_set}/{row.regime}/id_auroc"] = float(row.id_auroc)
    return metrics


def validation_metrics(summary: pd.DataFrame) -> dict[str, float]:
    """``predictors/<feature set>/supervised/id_val_auroc``: the mean ID validation AUROC, the
    label-honest objective for a search (it uses no OOD and no ID test labels)."""
    rows = summary[summary["dataset"] == ID_VAL]
    return {
        f"predictors/{row.feature_set}/{row.regime}/id_val_auroc": float(row.auroc_mean) for row in rows.itertuples()
    }


def print_summary(drops: pd.DataFrame, summary: pd.DataFrame, console: Console | None = None) -> None:
    """A rich table: ID and OOD AUROC (mean ± 95 % CI) and the OOD drop, per feature set and regime."""
    table = Table(title="predictors: AUROC mean ± 95% CI over seeds")
    for column in ("feature set", "regime", "ID test", "OOD set", "OOD", "drop"):
        table.add_column(
            column, justify="left" if column in ("feature set", "regime", "OOD set") else "right", no_wrap=True
        )
    for row in drops.itertuples():
        table.add_row(
            row.feature_set,
            row.regime,
            f"{row.id_auroc:.3f}±{row.id_ci95:.3f}",
            row.dataset,
            f"{row.ood_auroc:.3f}±{row.ood_ci95:.3f}",
            f"{row.drop:+.3f}",
        )
    (console or Console()).print(table)
    fewshot = summary[summary["regime"] == "fewshot"]
    if len(fewshot):
        pivot = fewshot.pivot_table(index="feature_set", columns="n", values="auroc_mean", sort=False)
        log.info("few-shot AUROC on the rest of each OOD set, by k:\n%s", pivot.round(3).to_string())


def log_results(run_log: RunLog, summary: pd.DataFrame, drops: pd.DataFrame, curve: Path) -> None:
    """The summary tables, the limited-label curve and the headline AUROCs, to W&B."""
    run_log.table("predictors/summary", summary)
    run_log.table("predictors/ood_drop", drops)
    if curve.is_file():
        run_log.image("predictors/limited_curve", curve)
    differences = curve.with_name("paired_differences.csv")
    if differences.is_file():
        run_log.table("predictors/paired_differences", pd.read_csv(differences))
        if differences.with_suffix(".png").is_file():
            run_log.image("predictors/paired_differences", differences.with_suffix(".png"))
    run_log.summary(headline_metrics(drops))
