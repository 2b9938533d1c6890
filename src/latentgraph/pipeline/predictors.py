"""The predictor stage: attribute features for every split, feature sets, regimes, ``results/``.

Behind the stage cache: the results are reused when the data, the attribute set, the WAE, the
blanket and the predictor settings are all unchanged.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from latentgraph.atomic import atomic_copy, atomic_write_text, write_json
from latentgraph.attributes.sets import AttributeSet
from latentgraph.config.choices import FeatureSet, Regime
from latentgraph.config.schema import Config
from latentgraph.data import PreparedData
from latentgraph.perturbation.protocol import Autoencoder
from latentgraph.pipeline.oracles import OracleStageResult
from latentgraph.predictors.comparisons import compare_feature_sets
from latentgraph.predictors.feature_plan import choose_feature_sets
from latentgraph.predictors.intervals import crossed_interval
from latentgraph.predictors.labelled import ID_TEST, ID_VAL, Labelled, PredictorData, fewshot_sizes, limited_sizes
from latentgraph.predictors.regimes import RegimeResults, ood_drop, read_ood_drop, run_regimes
from latentgraph.progress import progress_steps, show_bars
from latentgraph.report.figures import forest_figure, limited_curve, save_png
from latentgraph.run_layout import ResultFiles, RunLayout
from latentgraph.runtime.cache.keys import predictor_key, stage_cache
from latentgraph.runtime.lineage import declare, declared
from latentgraph.runtime.tracking import RunLog

log = logging.getLogger(__name__)


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
    model_key: str | None = None,
) -> dict[str, float]:
    """Every feature set × regime × seed, or the results reused when nothing they depend on changed.

    Args:
        blanket: the graph stage's features for ``markov_blanket`` (``None``: no graph was built).
        consensus_blanket: the ensemble's features for ``consensus_blanket`` (``None``: one autoencoder).
        member_blankets: each ensemble member's blanket (seed → features), evaluated as the feature
            sets ``blanket_seed<s>`` for the per-seed comparison.
        model_key: the autoencoder's key where it was not fitted with these settings (a shipped member,
            a loaded checkpoint), so its results are cached apart from a local fit's.
    """
    cache = stage_cache(settings)
    key = predictor_key(settings, oracles.classifiers, blanket, consensus_blanket, member_blankets, wae=model_key)
    run = RunLayout(run_dir)
    out = run.results
    with cache.claim("predictors", key) as hit:  # parallel jobs with this key compute it once
        if hit is not None:
            log.info("stage predictors: reused from cache key %s (same data, attributes, WAE, blanket, settings)", key)
            out.path.mkdir(parents=True, exist_ok=True)
            for path in out.written():
                if (hit / path.name).is_file():
                    atomic_copy(hit / path.name, path)
            drops, summary = read_ood_drop(out.ood_drop), pd.read_csv(out.summary)
        else:
            log.info("stage predictors: computing (key %s)", key)
            drops, summary = run_predictors(
                settings,
                data,
                oracles.attributes,
                autoencoder,
                blanket,
                out.path,
                consensus_blanket=consensus_blanket,
                member_blankets=member_blankets,
                target_oracle=oracles.summary.get("target_oracle"),
            )
            with cache.store("predictors", key) as entry:
                for path in out.written():
                    if path.is_file():
                        shutil.copyfile(path, entry / path.name)  # the entry's temporary folder
    inputs = [declared(folder.path) for folder in (run.checkpoints, run.graph, run.consensus)]
    declare(out.path, f"results-{key}", "results", inputs)
    print_summary(drops, summary)
    log_results(run_log, summary, drops, out)
    metrics = {**headline_metrics(drops), **validation_metrics(summary)}
    if blanket == []:  # an empty blanket is an empty feature set, whose predictor is the base rate (AUROC 0.5):
        # a search over graph settings (hparams_search=optuna_blanket) then ranks it as chance, not as a failure
        metrics.setdefault("predictors/markov_blanket/supervised/id_val_auroc", 0.5)
    return metrics


def announce_skipped_regimes(settings: Config, data: PreparedData) -> list[str]:
    """Name, before any work starts, each regime an evaluation set holds too few rows for; that
    regime is then skipped for that set (the run goes on). Returns the messages it logged."""
    predictor, target, messages = settings.predictor, data.target, []
    if Regime.limited in predictor.regimes:
        skipped = [n for n in predictor.limited_n if n not in limited_sizes(len(data.id_train), predictor.limited_n)]
        if skipped:
            messages.append(
                f"limited regime: n={skipped} skipped (predictor.limited_n): the ID training split holds only "
                f"{len(data.id_train)} labelled rows, and each n must subsample them"
            )
    if Regime.fewshot in predictor.regimes:
        for name, frame in data.ood.items():
            if target not in frame:
                continue
            labels = frame[target].to_numpy()
            skipped = [k for k in predictor.fewshot_k if k not in fewshot_sizes(labels, predictor.fewshot_k)]
            if skipped:
                counts = ", ".join(
                    f"{label:g}: {count}" for label, count in frame[target].value_counts().sort_index().items()
                )
                messages.append(
                    f"few-shot regime on OOD set {name!r} ({len(frame)} rows; {counts}): k={skipped} skipped "
                    "(predictor.fewshot_k): its k shots must leave both classes in the rest it is scored on"
                )
    for message in messages:
        log.warning("predictors: %s", message)
    return messages


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
    target_oracle: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and evaluate every feature set × regime × seed; write ``out`` (``results/``)."""
    config = settings.predictor  # the config's own type is the library's settings
    target = data.target
    pdata = _predictor_data(settings, data, attributes, autoencoder)
    names = pdata.names
    wanted = [str(name) for name in config.feature_sets]
    pdata.notes.update(_blanket_notes(target, wanted, blanket, consensus_blanket))
    plan = choose_feature_sets(
        names,
        wanted,
        blanket=blanket,
        consensus_blanket=consensus_blanket,
        member_blankets=member_blankets,
        seed=settings.seed,
    )
    bars = show_bars(settings.trainer.enable_progress_bar)
    with progress_steps("predictors: feature sets", len(plan.choices), log, bars=bars) as advance:
        results = run_regimes(pdata, plan, config, progress=lambda name: advance(note=name))
    analysis = compare_feature_sets(results, plan, seed=settings.seed)
    for line in analysis.not_compared:
        log.info("predictors: not compared: %s", line)
    drops = ood_drop(analysis.summary)
    oracle = {**(target_oracle or {}), "auroc": oracle_auroc(attributes, data, target, settings.seed)}
    comparisons = analysis.comparisons.assign(
        oracle=oracle.get("column"), oracle_labels=oracle.get("labels_seen"), selection=str(config.selection)
    )
    record = {  # features.json: what each feature set chose, and why
        "attributes": names,
        "blanket": blanket,
        "consensus_blanket": consensus_blanket,
        "notes": pdata.notes,
        "comparisons": plan.comparisons,
        "not_compared": analysis.not_compared,
        "selection": str(config.selection),
        "features": {f"{name}/{regime}/{n}": chosen for (name, regime, n), chosen in results.features.items()},
        "settings": asdict(config),
    }
    limited = Regime.limited in config.regimes
    _write_results(ResultFiles(out), results, analysis.summary, drops, comparisons, oracle, record, limited)
    return drops, analysis.summary


def _predictor_data(
    settings: Config, data: PreparedData, attributes: AttributeSet, autoencoder: Autoencoder
) -> PredictorData:
    """The target's attribute values and labels on every split and OOD set, and prior samples if wanted."""
    target = data.target
    features = attributes.features_for(target)
    pdata = PredictorData(
        names=features.names,
        train=_labelled(features, data.id_train, target, "ID train"),
        val=_labelled(features, data.id_val, target, "ID val"),
        test=_labelled(features, data.id_test, target, "ID test"),
        ood={name: _labelled(features, frame, target, name) for name, frame in data.ood.items() if target in frame},
    )
    if Regime.unsupervised in settings.predictor.regimes:
        pdata.prior, note = prior_samples(
            autoencoder, attributes, target, settings.predictor.prior_samples, settings.seed
        )
        if note:
            pdata.notes["unsupervised"] = note
            log.warning("predictors: %s", note)
    return pdata


def _write_results(
    files: ResultFiles,
    results: RegimeResults,
    summary: pd.DataFrame,
    drops: pd.DataFrame,
    comparisons: pd.DataFrame,
    oracle: dict,
    record: dict,
    limited: bool,
) -> None:
    """Every file of ``results/`` (the limited-label curve when the limited regime ran)."""
    write_json(files.features, record)
    write_json(files.oracle, oracle)
    results.scores.save(files.scores)
    atomic_write_text(files.metrics_csv, results.metrics.to_csv(index=False))
    write_json(files.metrics_json, results.metrics.to_dict(orient="records"))
    atomic_write_text(files.summary, summary.to_csv(index=False))
    atomic_write_text(files.ood_drop, drops.to_csv(index=False))
    atomic_write_text(files.comparisons, comparisons.to_csv(index=False))
    figure = forest_figure(comparisons)
    if figure is not None:
        save_png(figure, files.comparisons_picture)
    if limited:
        limited_curve(summary, files.limited_curve)


def _blanket_notes(
    target: str, wanted: list[str], blanket: list[str] | None, consensus_blanket: list[str] | None
) -> dict[str, str]:
    """Why a blanket set is not evaluated (no graph, an empty blanket, one autoencoder), logged as well."""
    notes = {}
    if FeatureSet.markov_blanket in wanted and not blanket:
        notes["markov_blanket"] = (
            "skipped: no graph/blanket.json (perturbation.enabled=false?)"
            if blanket is None
            else f"skipped: the blanket of {target} is empty (graph.empty_blanket=skip), so no comparison needs it; "
            "the size-matched baselines (lasso, mutual_info, random) have no size and are skipped too"
        )
    if FeatureSet.consensus_blanket in wanted and consensus_blanket is None:
        notes["consensus_blanket"] = "skipped: one autoencoder (ensemble.size=1)"
    elif FeatureSet.consensus_blanket in wanted and not consensus_blanket:
        notes["consensus_blanket"] = f"skipped: the consensus blanket of {target} is empty"
    for name, note in notes.items():
        log.log(logging.INFO if "one autoencoder" in note else logging.WARNING, "predictors: %s %s", name, note)
    return notes


def oracle_auroc(attributes: AttributeSet, data: PreparedData, target: str, seed: int) -> dict[str, dict]:
    """The target oracle's own AUROC (and crossed-bootstrap interval) on the ID test split and each
    OOD set: the blanket is the oracle's blanket, so it can be no better out of distribution."""
    try:
        oracle = attributes.oracle(target)
    except KeyError:
        return {}
    frames = {ID_TEST: data.id_test, **{name: frame for name, frame in data.ood.items() if target in frame}}
    out = {}
    for name, frame in frames.items():
        scores = oracle(list(frame["sequence"]))[:, 0].numpy()
        labels = frame[target].to_numpy()
        keep = np.isfinite(scores)
        interval = crossed_interval(scores[None, keep], labels[keep], seed=seed)
        out[name] = {"auroc": interval.mean, "low": interval.low, "high": interval.high, "n": int(keep.sum())}
    return out


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
    table = Table(title="predictors: AUROC, mean over seeds [95 % crossed-bootstrap interval]")
    for column in ("feature set", "regime", "ID test", "OOD set", "OOD", "drop"):
        table.add_column(
            column, justify="left" if column in ("feature set", "regime", "OOD set") else "right", no_wrap=True
        )
    for row in drops.itertuples():
        table.add_row(
            row.feature_set,
            row.regime,
            f"{row.id_auroc:.3f} [{row.id_low:.3f}, {row.id_high:.3f}]",
            row.dataset,
            f"{row.ood_auroc:.3f} [{row.ood_low:.3f}, {row.ood_high:.3f}]",
            f"{row.drop:+.3f}",
        )
    (console or Console()).print(table)
    fewshot = summary[summary["regime"] == "fewshot"]
    if len(fewshot):
        pivot = fewshot.pivot_table(index="feature_set", columns="n", values="auroc_mean", sort=False)
        log.info("few-shot AUROC on the rest of each OOD set, by k:\n%s", pivot.round(3).to_string())


def log_results(run_log: RunLog, summary: pd.DataFrame, drops: pd.DataFrame, files: ResultFiles) -> None:
    """The summary tables, the limited-label curve and the headline AUROCs, to W&B."""
    run_log.table("predictors/summary", summary)
    run_log.table("predictors/ood_drop", drops)
    if files.limited_curve.is_file():
        run_log.image("predictors/limited_curve", files.limited_curve)
    if files.comparisons.is_file():
        run_log.table("predictors/comparisons", pd.read_csv(files.comparisons))
        if files.comparisons_picture.is_file():
            run_log.image("predictors/comparisons", files.comparisons_picture)
    run_log.summary(headline_metrics(drops))
