"""Predictors per feature set × regime × seed, evaluated in and out of distribution (docs/method.md §6).

Everything here works on attribute matrices and labels; the CLI computes them from sequences.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from latentgraph.config.choices import FeatureSet, PredictorModel, Regime
from latentgraph.predictors.feature_sets import (
    ges_features,
    lasso_features,
    lingam_features,
    mutual_info_features,
    pc_features,
    random_features,
)
from latentgraph.predictors.model import AttributePredictor, evaluate_predictor, fit_predictor_batch

log = logging.getLogger(__name__)

ID_TEST = "id_test"
ID_VAL = "id_val"  # the supervised predictor on the ID validation split: for model and setting choice, never OOD


@dataclass
class Labelled:
    """Attribute values ``x [n, m]`` (columns: :attr:`PredictorData.names`) and binary labels ``y [n]``."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def columns(self, index: list[int]) -> Labelled:
        return Labelled(self.x[:, index], self.y)

    def rows(self, index: np.ndarray | torch.Tensor) -> Labelled:
        index = torch.as_tensor(index, dtype=torch.long)
        return Labelled(self.x[index], self.y[index])


@dataclass
class PredictorData:
    names: list[str]
    train: Labelled
    val: Labelled
    test: Labelled
    ood: dict[str, Labelled]
    prior: Labelled | None = None  # prior samples labelled by the target oracle (unsupervised regime)
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class PredictorSettings:
    model: PredictorModel | str = PredictorModel.logistic
    seeds: int = 5
    regimes: Sequence[str] = Regime.values()
    fewshot_k: Sequence[int] = (8, 16, 32, 64)
    limited_n: Sequence[int] = (16, 32, 64, 128)
    limited_subsamples: int = 50
    limited_c: float = 1.0
    max_steps: int = 500
    patience: int = 25
    lr: float = 1e-2
    fewshot_steps: int = 100
    fewshot_lr: float = 3e-3


def choose_feature_sets(
    data: PredictorData,
    blanket: list[str],
    wanted: Sequence[str],
    *,
    seed: int = 0,
    consensus_blanket: list[str] | None = None,
) -> dict[str, list[str] | Callable[[int], list[str]]]:
    """Each wanted feature set's attributes, chosen on the ID training split.

    ``random`` is a function of the seed (one draw per seed); every other set is fixed. The
    size-matched sets (``lasso``, ``mutual_info``, ``random``) use ``k = len(blanket)``.
    ``consensus_blanket`` is the ensemble's consensus (required when that set is wanted).
    """
    x, y, names = data.train.x.numpy(), data.train.y.numpy(), data.names
    k = max(len(blanket), 1)
    chosen: dict[str, list[str] | Callable[[int], list[str]]] = {}
    for name in wanted:
        if name == "markov_blanket":
            chosen[name] = list(blanket)
        elif name == "consensus_blanket":
            if consensus_blanket is None:
                raise ValueError("the consensus_blanket feature set needs the ensemble's consensus blanket")
            chosen[name] = list(consensus_blanket)
        elif name == "all":
            chosen[name] = list(names)
        elif name == "lasso":
            chosen[name] = lasso_features(x, y, names, k)
        elif name == "mutual_info":
            chosen[name] = mutual_info_features(x, y, names, k, seed=seed)
        elif name == "random":
            chosen[name] = lambda s, k=k: random_features(names, k, seed=1000 + s)
        elif name == "pc":
            chosen[name] = pc_features(x, y, names, seed=seed)
        elif name == "ges":
            chosen[name] = ges_features(x, y, names, seed=seed)
        elif name == "lingam":
            chosen[name] = lingam_features(x, y, names, seed=seed)
        else:
            raise ValueError(f"unknown feature set {name!r}; known: {', '.join(FeatureSet.values())}")
        if not callable(chosen[name]):
            log.info("feature set %s: %s", name, chosen[name] or "(empty)")
    return chosen


def stratified_sample(y: torch.Tensor, n: int, seed: int) -> np.ndarray:
    """``n`` row indices with both classes in proportion (at least one of each when ``n ≥ 2``)."""
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_pos = int(round(n * len(positives) / len(labels)))
    n_pos = min(max(n_pos, 1 if n >= 2 else 0), len(positives), n - (1 if n >= 2 else 0))
    n_neg = min(n - n_pos, len(negatives))
    return np.concatenate([rng.choice(positives, n_pos, replace=False), rng.choice(negatives, n_neg, replace=False)])


def run_regimes(
    data: PredictorData,
    feature_sets: dict[str, list[str] | Callable[[int], list[str]]],
    settings: PredictorSettings,
    progress: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """One row per feature set × regime × dataset × n/k × seed: AUROC, AUPRC, accuracy."""
    rows: list[dict] = []
    index = {name: i for i, name in enumerate(data.names)}

    def record(
        feature_set: str,
        regime: str,
        dataset: str,
        n: int,
        seed: int,
        features: list[str],
        predictor: AttributePredictor | None,
        evaluation: Labelled,
    ) -> None:
        if predictor is None:  # an empty feature set predicts the training base rate
            metrics = {"auroc": 0.5, "auprc": float(evaluation.y.float().mean()), "acc": float("nan")}
        else:
            metrics = evaluate_predictor(predictor, evaluation.x[:, [index[f] for f in features]], evaluation.y)
        rows.append(
            {
                "feature_set": feature_set,
                "regime": regime,
                "dataset": dataset,
                "n": n,
                "seed": seed,
                "n_features": len(features),
                **metrics,
            }
        )

    def fit_seeds(
        train: list[Labelled],
        val: Labelled | None,
        features: list[list[str]],
        init_from: list[AttributePredictor | None] | None = None,
        **kwargs,
    ) -> list[AttributePredictor | None]:
        """One fit per seed (seed ``s`` on ``train[s]`` with ``features[s]``; ``None`` for an empty
        list), as ``fit_predictor`` would fit each; the seeds whose feature lists have one width
        are fitted as one batch. The regimes' seeds, and the limited regime's subsamples of one ``n``."""
        models: list[AttributePredictor | None] = [None] * len(train)
        by_width: dict[int, list[int]] = {}
        for seed, chosen in enumerate(features):
            if chosen and (init_from is None or init_from[seed] is not None):
                by_width.setdefault(len(chosen), []).append(seed)
        options = {"max_steps": settings.max_steps, "patience": settings.patience, "lr": settings.lr, **kwargs}
        for group in by_width.values():
            columns = [[index[f] for f in features[seed]] for seed in group]
            x = torch.stack([train[seed].x[:, cols] for seed, cols in zip(group, columns)])
            y = torch.stack([train[seed].y for seed in group])
            val_pair = None
            if val is not None:
                val_pair = (torch.stack([val.x[:, cols] for cols in columns]), val.y.expand(len(group), -1))
            fitted = fit_predictor_batch(
                x,
                y,
                seeds=group,
                model=settings.model,
                val=val_pair,
                init_from=[init_from[seed] for seed in group] if init_from is not None else None,
                **options,
            )
            for seed, model in zip(group, fitted):
                models[seed] = model
        return models

    evaluations = {ID_TEST: data.test, **data.ood}
    fitted_as: dict[tuple[str, ...], str] = {}  # a fixed feature list → the first set fitted on it
    for set_name, chosen in feature_sets.items():
        same = None if callable(chosen) else fitted_as.setdefault(tuple(chosen), set_name)
        if same is not None and same != set_name:
            # the same columns in the same order: every fit would repeat the earlier set's, seed
            # for seed (fits are deterministic), so its rows are copied under this set's name
            log.info("feature set %s: the same features as %s; its fits are reused", set_name, same)
            rows += [{**row, "feature_set": set_name} for row in rows if row["feature_set"] == same]
            for _ in range(settings.seeds):
                if progress is not None:
                    progress()
            continue
        seeds = range(settings.seeds)
        features_of = [chosen(seed) if callable(chosen) else chosen for seed in seeds]
        supervised = fit_seeds([data.train] * len(seeds), data.val, features_of)
        unsupervised: list[AttributePredictor | None] = []
        cut = int(0.8 * len(data.prior)) if data.prior is not None else 0
        if "unsupervised" in settings.regimes and data.prior is not None:
            prior_train = data.prior.rows(np.arange(cut))
            prior_val = data.prior.rows(np.arange(cut, len(data.prior)))
            unsupervised = fit_seeds([prior_train] * len(seeds), prior_val, features_of)
        fewshot: dict[tuple[str, int], tuple[list[AttributePredictor | None], list[np.ndarray]]] = {}
        if "fewshot" in settings.regimes:
            for dataset, ood in data.ood.items():
                for k in settings.fewshot_k:
                    if k >= len(ood) - 1:
                        continue
                    shots = [stratified_sample(ood.y, k, seed) for seed in seeds]
                    tuned = fit_seeds(
                        [ood.rows(shot) for shot in shots],
                        None,
                        features_of,
                        init_from=supervised,
                        max_steps=settings.fewshot_steps,
                        lr=settings.fewshot_lr,
                    )
                    fewshot[dataset, k] = tuned, [np.setdiff1d(np.arange(len(ood)), shot) for shot in shots]
        for seed in seeds:  # the rows in the order of one seed's fits after another
            features = features_of[seed]
            if "supervised" in settings.regimes:
                for dataset, evaluation in evaluations.items():
                    record(
                        set_name, "supervised", dataset, len(data.train), seed, features, supervised[seed], evaluation
                    )
                record(set_name, "supervised", ID_VAL, len(data.train), seed, features, supervised[seed], data.val)
            if unsupervised:
                for dataset, evaluation in evaluations.items():
                    record(set_name, "unsupervised", dataset, cut, seed, features, unsupervised[seed], evaluation)
            for (dataset, k), (tuned, rests) in fewshot.items():
                ood = data.ood[dataset]
                record(set_name, "fewshot", dataset, k, seed, features, tuned[seed], ood.rows(rests[seed]))
            if progress is not None:
                progress()
        if "limited" in settings.regimes:
            # limited means limited: the model sees its n labels and nothing else. No early stopping
            # on the validation split; a fixed budget and a stated L2 prior, the same for every
            # feature set. Subsample r is the same rows for every feature set (paired).
            # The subsamples of one n are fitted together (fit_predictor_batch: the same fits as
            # one at a time, in one batched loop).
            subsamples = range(settings.limited_subsamples)
            chosen_features = [chosen(r) if callable(chosen) else chosen for r in subsamples]
            sizes = [n for n in settings.limited_n if n < len(data.train)]
            models: dict[tuple[int, int], AttributePredictor | None] = {}
            for n in sizes:
                subsets = [data.train.rows(stratified_sample(data.train.y, n, r)) for r in subsamples]
                fitted = fit_seeds(subsets, None, chosen_features, l2=1.0 / (2.0 * settings.limited_c * n))
                models.update({(n, r): model for r, model in enumerate(fitted)})
            for r in subsamples:
                for n in sizes:
                    for dataset, evaluation in evaluations.items():
                        record(set_name, "limited", dataset, n, r, chosen_features[r], models[n, r], evaluation)
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % t-interval half-width of AUROC over seeds, per feature set × regime × dataset × n."""

    def interval(values: pd.Series) -> float:
        values = values.dropna()
        if len(values) < 2:
            return float("nan")
        return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))

    grouped = results.groupby(["feature_set", "regime", "dataset", "n"], sort=False)["auroc"]
    summary = grouped.agg(auroc_mean="mean", seeds="count").reset_index()
    summary["auroc_ci95"] = grouped.apply(interval).to_numpy()
    return summary


OOD_DROP_COLUMNS = ["feature_set", "regime", "dataset", "id_auroc", "ood_auroc", "ood_ci95", "id_ci95", "drop"]


def read_ood_drop(path: str | Path) -> pd.DataFrame:
    """``results/ood_drop.csv`` as written by :func:`ood_drop`; a run with only the ``limited`` or
    ``fewshot`` regime has no rows (files written before the header was kept are empty)."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=OOD_DROP_COLUMNS)


def ood_drop(summary: pd.DataFrame) -> pd.DataFrame:
    """Per feature set and regime, supervised and unsupervised: ID test AUROC, each OOD AUROC and
    the drop (no rows, but the columns, when the run had neither regime)."""
    rows = []
    main = summary[summary["regime"].isin(["supervised", "unsupervised"])]
    for (feature_set, regime), group in main.groupby(["feature_set", "regime"], sort=False):
        id_row = group[group["dataset"] == ID_TEST]
        if id_row.empty:
            continue
        id_auroc = float(id_row["auroc_mean"].iloc[0])
        for _, row in group[~group["dataset"].isin([ID_TEST, ID_VAL])].iterrows():
            rows.append(
                {
                    "feature_set": feature_set,
                    "regime": regime,
                    "dataset": row["dataset"],
                    "id_auroc": id_auroc,
                    "ood_auroc": row["auroc_mean"],
                    "ood_ci95": row["auroc_ci95"],
                    "id_ci95": float(id_row["auroc_ci95"].iloc[0]),
                    "drop": id_auroc - row["auroc_mean"],
                }
            )
    return pd.DataFrame(rows, columns=OOD_DROP_COLUMNS)
