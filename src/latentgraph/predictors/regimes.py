"""Predictors per feature set × regime × seed, evaluated in and out of distribution (docs/method.md §6).

Everything here works on attribute matrices and labels; the CLI computes them from sequences.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from latentgraph.atomic import atomic_target
from latentgraph.config.choices import Selection
from latentgraph.config.schema import PredictorConfig
from latentgraph.predictors.feature_plan import FeatureChoice, FeaturePlan, FeatureSets, SelectionCache, as_choices
from latentgraph.predictors.labelled import (
    ID_TEST,
    ID_VAL,
    Labelled,
    PredictorData,
    fewshot_sizes,
    limited_sizes,
    stratified_sample,
)
from latentgraph.predictors.model import AttributePredictor, fit_predictor_batch, probability_metrics

log = logging.getLogger(__name__)


@dataclass
class ScoreTable:
    """Every evaluated predictor's probabilities, for the crossed-bootstrap intervals.

    ``scores[(feature_set, regime, dataset, n)]`` is ``[replicates, rows]`` (NaN where a replicate
    did not score a row: a few-shot fit's own shots); ``labels[dataset]`` the rows' labels.
    """

    labels: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[tuple[str, str, str, int], np.ndarray] = field(default_factory=dict)

    def add(self, key: tuple[str, str, str, int], replicate: int, values: np.ndarray) -> None:
        rows = self.scores.get(key)
        if rows is None or rows.shape[0] <= replicate:
            grown = np.full((replicate + 1, len(values)), np.nan, dtype=np.float32)
            if rows is not None:
                grown[: rows.shape[0]] = rows
            self.scores[key] = rows = grown
        rows[replicate] = values

    def save(self, path: Path) -> None:
        """``results/scores.npz``: arrays named ``scores|set|regime|dataset|n`` and ``labels|dataset``."""
        arrays = {f"labels|{d}": y for d, y in self.labels.items()}
        arrays.update({"scores|" + "|".join(map(str, key)): value for key, value in self.scores.items()})
        with atomic_target(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> ScoreTable:
        table = cls()
        with np.load(path) as archive:
            for name in archive.files:
                kind, *parts = name.split("|")
                if kind == "labels":
                    table.labels[parts[0]] = archive[name]
                else:
                    table.scores[(parts[0], parts[1], parts[2], int(parts[3]))] = archive[name]
        return table


@dataclass
class RegimeResults:
    """What :func:`run_regimes` measured: the metrics table, every prediction, and the features
    each replicate used (``features[(set, regime, n)]``: one list per replicate)."""

    metrics: pd.DataFrame
    scores: ScoreTable
    features: dict[tuple[str, str, int], list[list[str]]]


def _metrics(p: torch.Tensor, y: torch.Tensor, fitted: bool) -> dict[str, float]:
    """AUROC, AUPRC and accuracy of probabilities ``p``; an empty feature set predicts the base rate."""
    if not fitted:
        return {"auroc": 0.5, "auprc": float(y.float().mean()), "acc": float("nan")}
    return probability_metrics(p, y)


@dataclass(frozen=True)
class _PredictorFit:
    """One predictor fit: its rows, its features, its seed, its L2 strength, the model it fine-tunes;
    ``key`` names the rows (regime, n or k, replicate), so a fit of the same features on them is reused."""

    key: tuple
    rows: Labelled
    features: list[str]
    seed: int
    l2: float = 0.0
    init_from: AttributePredictor | None = None


class _RegimeRunner:
    """Fits and scores one feature set at a time in every regime, recording metrics, scores and features."""

    def __init__(
        self,
        data: PredictorData,
        choices: dict[str, FeatureChoice],
        settings: PredictorConfig,
        subsample: Callable[[int, int], np.ndarray] | None = None,
        regimes: Sequence[str] | None = None,
    ):
        self.data, self.settings = data, settings
        self.regimes = list(settings.regimes if regimes is None else regimes)
        self.subsample = subsample or (lambda n, r: stratified_sample(data.train.y, n, r))
        self._subsets: dict[int, list[Labelled]] = {}
        self.selections = SelectionCache(choices)
        self.index = {name: i for i, name in enumerate(data.names)}
        self.rows: list[dict] = []
        self.scores = ScoreTable(
            labels={
                ID_TEST: data.test.y.numpy(),
                ID_VAL: data.val.y.numpy(),
                **{name: ood.y.numpy() for name, ood in data.ood.items()},
            }
        )
        self.features: dict[tuple[str, str, int], list[list[str]]] = {}
        self._fitted: dict[tuple, AttributePredictor | None] = {}  # (regime, n, replicate, features) -> fit
        self.reused: dict[str, int] = {}
        self.evaluations = {ID_TEST: data.test, **data.ood}

    def record(
        self,
        feature_set: str,
        regime: str,
        dataset: str,
        n: int,
        replicate: int,
        features: list[str],
        predictor: AttributePredictor | None,
        evaluation: Labelled,
        scored: np.ndarray | None = None,
    ) -> None:
        """One metrics row, and the replicate's probabilities on every row of ``dataset`` (NaN off ``scored``)."""
        if predictor is None:
            p = torch.full((len(evaluation),), 0.5)
        else:
            p = predictor.predict_proba(evaluation.x[:, [self.index[f] for f in features]])
        keep = slice(None) if scored is None else torch.as_tensor(scored, dtype=torch.long)
        metrics = _metrics(p[keep], evaluation.y[keep], predictor is not None)
        values = np.full(len(evaluation), np.nan, dtype=np.float32)
        values[keep.numpy() if scored is not None else slice(None)] = p[keep].numpy()
        self.scores.add((feature_set, regime, dataset, int(n)), replicate, values)
        self.rows.append(
            {
                "feature_set": feature_set,
                "regime": regime,
                "dataset": dataset,
                "n": n,
                "seed": replicate,
                "n_features": len(features),
                **metrics,
            }
        )

    def fit(
        self,
        feature_set: str,
        fits: list[_PredictorFit],
        val: Labelled | None,
        **kwargs,
    ) -> list[AttributePredictor | None]:
        """Each fit's predictor (``None`` for an empty feature list), all in one batched fit.

        A fit whose features another set already fitted on the same rows (its ``key``) reuses that
        fit: fits are deterministic, so its own would be the same. The rest run as one
        ``fit_predictor_batch`` of ragged rows and widths (the same fits as one at a time)."""
        settings = self.settings
        models: list[AttributePredictor | None] = [None] * len(fits)
        todo: list[int] = []
        for i, job in enumerate(fits):
            if (*job.key, tuple(job.features)) in self._fitted:
                models[i] = self._fitted[(*job.key, tuple(job.features))]
                self.reused[feature_set] = self.reused.get(feature_set, 0) + bool(job.features)
            elif job.features:  # an empty set has no fit, and so no supervised model to fine-tune
                todo.append(i)
        if todo:
            columns = [[self.index[f] for f in fits[i].features] for i in todo]
            init = [fits[i].init_from for i in todo]
            fitted = fit_predictor_batch(
                [fits[i].rows.x[:, cols] for i, cols in zip(todo, columns)],
                [fits[i].rows.y for i in todo],
                seeds=[fits[i].seed for i in todo],
                model=str(settings.model),
                l2=[fits[i].l2 for i in todo],
                val=None if val is None else ([val.x[:, cols] for cols in columns], val.y.expand(len(todo), -1)),
                init_from=None if init[0] is None else init,
                **{"max_steps": settings.max_steps, "patience": settings.patience, "lr": settings.lr, **kwargs},
            )
            for i, model in zip(todo, fitted):
                models[i] = model
        for job, model in zip(fits, models):
            self._fitted.setdefault((*job.key, tuple(job.features)), model)
        return models

    def choose(self, name: str, regime_rows: str, rows: Labelled, replicates: range) -> list[list[str]]:
        """The set's features per replicate, chosen on ``rows`` (or on the ID training split when
        ``predictor.selection=full_train``)."""
        if self.settings.selection == Selection.full_train:
            regime_rows, rows = "train", self.data.train
        return [self.selections(name, regime_rows, rows, r) for r in replicates]

    def run(self, name: str) -> None:
        data, settings = self.data, self.settings
        regimes = self.regimes
        seeds = range(settings.seeds)
        if "supervised" in regimes or "fewshot" in regimes:  # few-shot fine-tunes the supervised fits
            features = self.choose(name, "train", data.train, seeds)
            self.features[name, "supervised", len(data.train)] = features
            fits = [_PredictorFit(("supervised", seed), data.train, features[seed], seed) for seed in seeds]
            supervised = self.fit(name, fits, data.val)
        if "supervised" in regimes:
            for seed in seeds:
                for dataset, evaluation in self.evaluations.items():
                    self.record(
                        name, "supervised", dataset, len(data.train), seed, features[seed], supervised[seed], evaluation
                    )
                self.record(
                    name, "supervised", ID_VAL, len(data.train), seed, features[seed], supervised[seed], data.val
                )
        if "unsupervised" in regimes and data.prior is not None:
            self.run_unsupervised(name, seeds)
        if "fewshot" in regimes:
            self.run_fewshot(name, seeds, features, supervised)
        if "limited" in regimes:
            self.run_limited(name)

    def run_unsupervised(self, name: str, seeds: range) -> None:
        prior = self.data.prior
        cut = int(0.8 * len(prior))
        train, val = prior.rows(np.arange(cut)), prior.rows(np.arange(cut, len(prior)))
        features = self.choose(name, "prior", train, seeds)
        self.features[name, "unsupervised", cut] = features
        models = self.fit(
            name, [_PredictorFit(("unsupervised", seed), train, features[seed], seed) for seed in seeds], val
        )
        for seed in seeds:
            for dataset, evaluation in self.evaluations.items():
                self.record(name, "unsupervised", dataset, cut, seed, features[seed], models[seed], evaluation)

    def run_fewshot(
        self, name: str, seeds: range, features: list[list[str]], supervised: list[AttributePredictor | None]
    ) -> None:
        """Fine-tune each seed's supervised model on ``k`` OOD examples, every set and ``k`` in one
        batch; score each on the rest of its set."""
        settings = self.settings
        fits, shots = [], []
        for dataset, ood in self.data.ood.items():
            for k in fewshot_sizes(ood.y.numpy(), settings.fewshot_k):  # the others were named before the fit
                self.features[name, "fewshot", k] = features  # each seed fine-tunes its supervised set
                for seed in seeds:
                    shots.append(stratified_sample(ood.y, k, seed))
                    fits.append(
                        _PredictorFit(
                            ("fewshot", dataset, k, seed),
                            ood.rows(shots[-1]),
                            features[seed],
                            seed,
                            init_from=supervised[seed],
                        )
                    )
        tuned = self.fit(name, fits, None, max_steps=settings.fewshot_steps, lr=settings.fewshot_lr)
        for job, shot, model in zip(fits, shots, tuned):
            _, dataset, k, seed = job.key
            ood = self.data.ood[dataset]
            rest = np.setdiff1d(np.arange(len(ood)), shot)
            self.record(name, "fewshot", dataset, k, seed, job.features, model, ood, scored=rest)

    @property
    def limited_sizes(self) -> list[int]:
        return limited_sizes(len(self.data.train), self.settings.limited_n)

    def subsets(self, n: int) -> list[Labelled]:
        """The limited regime's subsamples of size ``n`` (the same rows for every feature set)."""
        if n not in self._subsets:
            replicates = range(self.settings.limited_subsamples)
            self._subsets[n] = [self.data.train.rows(self.subsample(n, r)) for r in replicates]
        return self._subsets[n]

    def prefetch_selections(self) -> None:
        """Every selector's choice on every set of ID training rows it will see (the whole split, and
        under the fair protocol every label subsample), in parallel processes."""
        selectors = [name for name, choice in self.selections.choices.items() if choice.uses_labels]
        regimes, full = self.regimes, self.settings.selection == Selection.full_train
        tasks = []
        if full or "supervised" in regimes or "fewshot" in regimes:
            tasks += [(name, "train", self.data.train, 0) for name in selectors]
        if "limited" in regimes and not full:
            for n in self.limited_sizes:
                for r, rows in enumerate(self.subsets(n)):
                    tasks += [(name, f"limited/{n}/{r}", rows, r) for name in selectors]
        self.selections.prefetch(tasks, self.settings.jobs)

    def run_limited(self, name: str) -> None:
        """Limited means limited: each fit sees its ``n`` labels and nothing else (no early stopping
        on the validation split; a fixed budget and a stated L2 prior, the same for every feature
        set), and a selector chooses from the same ``n`` rows. Subsample ``r`` is the same rows for
        every feature set (paired)."""
        settings = self.settings
        subsamples = range(settings.limited_subsamples)
        fits = []
        for n in self.limited_sizes:
            subsets = self.subsets(n)
            features = [self.choose(name, f"limited/{n}/{r}", subsets[r], range(r, r + 1))[0] for r in subsamples]
            self.features[name, "limited", n] = features
            l2 = 1.0 / (2.0 * settings.limited_c * n)
            fits += [_PredictorFit(("limited", n, r), subsets[r], features[r], r, l2=l2) for r in subsamples]
        models = self.fit(name, fits, None)  # every n and subsample in one batch
        for job, model in zip(fits, models):
            _, n, r = job.key
            for dataset, evaluation in self.evaluations.items():
                self.record(name, "limited", dataset, n, r, job.features, model, evaluation)


def run_regimes(
    data: PredictorData,
    feature_sets: FeaturePlan | FeatureSets,
    settings: PredictorConfig,
    progress: Callable[[str], None] | None = None,
    subsample: Callable[[int, int], np.ndarray] | None = None,
    regimes: Sequence[str] | None = None,
) -> RegimeResults:
    """Every feature set in every regime: one metrics row per set × regime × dataset × n/k ×
    replicate (AUROC, AUPRC, accuracy), every prediction, and the features each replicate used.

    ``feature_sets`` is a :class:`FeaturePlan`, or a mapping of names to fixed lists or to
    functions of the replicate. ``progress`` is called with each set's name once it is done.
    ``subsample(n, r)`` gives the training rows of the limited regime's subsample ``r`` of size
    ``n`` (default: :func:`stratified_sample` of the ID training labels). ``regimes`` picks
    several regimes by name (default: ``settings.regimes``, one or all of them, as ``predictor.regime`` does).
    """
    runner = _RegimeRunner(data, as_choices(feature_sets), settings, subsample, regimes)
    if settings.jobs != 1:
        runner.prefetch_selections()
    for name in runner.selections.choices:
        runner.run(name)
        if progress is not None:
            progress(name)
    for name, count in runner.reused.items():
        log.info("feature set %s: %d fits reused from sets with the same features on the same rows", name, count)
    for name, count in runner.selections.failures.items():
        log.warning("feature set %s: selection failed on %d sets of training rows; it chose nothing there", name, count)
    return RegimeResults(pd.DataFrame(runner.rows), runner.scores, runner.features)


OOD_DROP_COLUMNS = [
    "feature_set",
    "regime",
    "dataset",
    "id_auroc",
    "id_low",
    "id_high",
    "ood_auroc",
    "ood_low",
    "ood_high",
    "drop",
]


def read_ood_drop(path: str | Path) -> pd.DataFrame:
    """``results/ood_drop.csv`` as written by :func:`ood_drop`; a run with only the ``limited`` or
    ``fewshot`` regime has no rows, but the header."""
    return pd.read_csv(path)


def ood_drop(summary: pd.DataFrame) -> pd.DataFrame:
    """Per feature set and regime, supervised and unsupervised: ID test AUROC, each OOD AUROC and
    the drop (no rows, but the columns, when the run had neither regime)."""
    rows = []
    main = summary[summary["regime"].isin(["supervised", "unsupervised"])]
    for (feature_set, regime), group in main.groupby(["feature_set", "regime"], sort=False):
        id_row = group[group["dataset"] == ID_TEST]
        if id_row.empty:
            continue
        first = id_row.iloc[0]
        for _, row in group[~group["dataset"].isin([ID_TEST, ID_VAL])].iterrows():
            rows.append(
                {
                    "feature_set": feature_set,
                    "regime": regime,
                    "dataset": row["dataset"],
                    "id_auroc": float(first["auroc_mean"]),
                    "id_low": float(first["auroc_low"]),
                    "id_high": float(first["auroc_high"]),
                    "ood_auroc": row["auroc_mean"],
                    "ood_low": row["auroc_low"],
                    "ood_high": row["auroc_high"],
                    "drop": float(first["auroc_mean"]) - row["auroc_mean"],
                }
            )
    return pd.DataFrame(rows, columns=OOD_DROP_COLUMNS)
