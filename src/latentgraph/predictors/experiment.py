"""Predictors per feature set × regime × seed, evaluated in and out of distribution (docs/method.md §6).

Everything here works on attribute matrices and labels; the CLI computes them from sequences.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from latentgraph.artifacts import atomic_target
from latentgraph.config.choices import FeatureSet, Selection
from latentgraph.config.schema import PredictorConfig
from latentgraph.predictors.feature_sets import Selector, random_features, select_safely
from latentgraph.predictors.model import AttributePredictor, fit_predictor_batch, probability_metrics

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


@dataclass(frozen=True)
class FeatureChoice:
    """How one feature set picks its attributes from the labelled rows a predictor trains on.

    ``choose(rows, replicate)`` returns attribute names. A *selector* (``uses_labels``: lasso,
    mutual information, PC, GES, LiNGAM) chooses from ``rows``, so under the fair protocol it sees
    exactly the labels its predictor sees; ``random`` draws once per replicate; the others are fixed.
    """

    choose: Callable[[Labelled, int], list[str]]
    uses_replicate: bool = False
    selector: Selector | None = None  # a selector's method and settings, to run in another process

    @property
    def uses_labels(self) -> bool:
        return self.selector is not None

    @classmethod
    def fixed(cls, features: Sequence[str]) -> FeatureChoice:
        chosen = list(features)
        return cls(lambda rows, replicate: list(chosen))


@dataclass
class FeaturePlan:
    """The feature sets to evaluate and the comparisons fixed in advance.

    ``comparisons`` maps each blanket set (``markov_blanket``, ``consensus_blanket``) to the sets it
    is compared with: ``all``, the size-matched selectors of its own size and the size-free
    selectors. ``seed_sets`` maps an ensemble member's seed to its blanket's set, and
    ``seed_references`` each such seed to its references by baseline (``all``, ``lasso``, …,
    ``lingam``) → the set compared with that seed's blanket (the size-matched ones of its size).
    """

    choices: dict[str, FeatureChoice]
    comparisons: dict[str, list[str]] = field(default_factory=dict)
    seed_sets: dict[int, str] = field(default_factory=dict)
    seed_references: dict[int, dict[str, str]] = field(default_factory=dict)


SIZE_MATCHED = (FeatureSet.lasso, FeatureSet.mutual_info, FeatureSet.random)
SIZE_FREE_SELECTORS = (FeatureSet.pc, FeatureSet.ges, FeatureSet.lingam)


def selector(name: str, names: list[str], *, k: int | None = None, seed: int = 0) -> FeatureChoice:
    """The selection baseline ``name`` over the attributes ``names`` (``k``: its size, if size-matched)."""
    if name == FeatureSet.random:
        return FeatureChoice(
            lambda rows, replicate: random_features(names, k, seed=1000 + replicate), uses_replicate=True
        )
    method = Selector(str(FeatureSet(name).value), tuple(names), k=k, seed=seed)
    return FeatureChoice(lambda rows, replicate: method(rows.x.numpy(), rows.y.numpy()), selector=method)


def choose_feature_sets(
    names: list[str],
    wanted: Sequence[str],
    *,
    blanket: list[str] | None,
    consensus_blanket: list[str] | None = None,
    member_blankets: dict[int, list[str]] | None = None,
    seed: int = 0,
) -> FeaturePlan:
    """The plan of feature sets and comparisons for the attributes ``names``.

    ``blanket`` is the run's blanket (``None`` or empty: no blanket, so no ``markov_blanket`` set
    and no comparison of it); ``consensus_blanket`` the ensemble's. The size-matched selectors
    (``lasso``, ``mutual_info``, ``random``) take the size of each blanket they are compared with:
    one set each when the blankets share a size, else one per size, named ``lasso_k<size>``.
    """
    blankets = {
        FeatureSet.markov_blanket.value: blanket,
        FeatureSet.consensus_blanket.value: consensus_blanket,
    }
    blankets = {name: list(found) for name, found in blankets.items() if name in wanted and found}
    members = {seed: list(found) for seed, found in sorted((member_blankets or {}).items()) if found}
    sizes = sorted({len(found) for found in [*blankets.values(), *members.values()]})
    plan = FeaturePlan(choices={})
    for name, found in blankets.items():
        plan.choices[name] = FeatureChoice.fixed(found)
    if FeatureSet.all in wanted:
        plan.choices["all"] = FeatureChoice.fixed(names)
    for name in (str(n) for n in wanted):
        if name in SIZE_MATCHED:
            for k in sizes:
                plan.choices[name if len(sizes) == 1 else f"{name}_k{k}"] = selector(name, names, k=k, seed=seed)
        elif name in SIZE_FREE_SELECTORS:
            plan.choices[name] = selector(name, names, seed=seed)
        elif name not in FeatureSet.values():
            raise ValueError(f"unknown feature set {name!r}; known: {', '.join(FeatureSet.values())}")
    for name, found in blankets.items():
        plan.comparisons[name] = list(_references(plan, wanted, len(found), sizes).values())
    for member, found in members.items():  # each fit's own blanket, for the comparisons over fits
        plan.seed_sets[member] = f"blanket_seed{member}"
        plan.choices[f"blanket_seed{member}"] = FeatureChoice.fixed(found)
        plan.seed_references[member] = _references(plan, wanted, len(found), sizes)
    return plan


def _references(plan: FeaturePlan, wanted: Sequence[str], size: int, sizes: list[int]) -> dict[str, str]:
    """A blanket of ``size`` attributes' references, baseline → set: ``all``, the size-matched
    selectors of that size (named ``lasso_k<size>`` when the plan has several sizes), the size-free ones."""
    references = {"all": "all"}
    references.update({str(m): str(m) if len(sizes) == 1 else f"{m}_k{size}" for m in SIZE_MATCHED if m in wanted})
    references.update({s.value: s.value for s in SIZE_FREE_SELECTORS if s in wanted})
    return {baseline: name for baseline, name in references.items() if name in plan.choices}


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


def stratified_counts(positives: int, negatives: int, n: int) -> tuple[int, int]:
    """How many positives and negatives :func:`stratified_sample` draws for ``n`` rows of a set
    with these class counts: in proportion, at least one of each when ``n ≥ 2``."""
    n_pos = int(round(n * positives / (positives + negatives)))
    n_pos = min(max(n_pos, 1 if n >= 2 else 0), positives, n - (1 if n >= 2 else 0))
    return n_pos, min(n - n_pos, negatives)


def stratified_sample(y: torch.Tensor, n: int, seed: int) -> np.ndarray:
    """``n`` row indices with both classes in proportion (at least one of each when ``n ≥ 2``)."""
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_pos, n_neg = stratified_counts(len(positives), len(negatives), n)
    return np.concatenate([rng.choice(positives, n_pos, replace=False), rng.choice(negatives, n_neg, replace=False)])


def fewshot_sizes(labels: np.ndarray, ks: Sequence[int]) -> list[int]:
    """The few-shot ``k`` an OOD set with these labels can score: its ``k`` stratified shots must
    leave both classes in the rest, on which the AUROC is computed."""
    positives = int((np.asarray(labels) == 1).sum())
    negatives = len(labels) - positives
    if min(positives, negatives) == 0:
        return []
    kept = []
    for k in ks:
        n_pos, n_neg = stratified_counts(positives, negatives, k)
        if n_pos + n_neg == k and positives - n_pos >= 1 and negatives - n_neg >= 1:
            kept.append(k)
    return kept


def limited_sizes(train_rows: int, ns: Sequence[int]) -> list[int]:
    """The limited regime's ``n`` that subsample the ID training rows (smaller than all of them)."""
    return [n for n in ns if n < train_rows]


class _Selections:
    """Each feature set's choice on each set of training rows, made once (``rows_key`` names the rows)."""

    def __init__(self, choices: dict[str, FeatureChoice]):
        self.choices = choices
        self._made: dict[tuple, list[str]] = {}
        self.failures: dict[str, int] = {}

    def _key(self, name: str, rows_key: str, replicate: int) -> tuple:
        choice = self.choices[name]
        return name, rows_key if choice.uses_labels else None, replicate if choice.uses_replicate else None

    def __call__(self, name: str, rows_key: str, rows: Labelled, replicate: int) -> list[str]:
        key = self._key(name, rows_key, replicate)
        if key not in self._made:
            choice = self.choices[name]
            if choice.selector is None:
                result = choice.choose(rows, replicate)
            else:
                result = select_safely(choice.selector, rows.x.numpy(), rows.y.numpy())
            self._keep(key, rows_key, result)
        return self._made[key]

    def adopt(self, made: dict[tuple[str, str], list[str] | str]) -> None:
        """Selections made by :func:`make_selections`."""
        for (name, rows_key), result in made.items():
            if name in self.choices and self.choices[name].uses_labels:
                self._keep((name, rows_key, None), rows_key, result)

    def prefetch(self, tasks: list[tuple[str, str, Labelled, int]], jobs: int) -> None:
        """Make the selectors' choices of ``tasks`` not made yet, in ``jobs`` processes."""
        todo = [task for task in tasks if self._key(task[0], task[1], task[3]) not in self._made]
        if todo:
            self.adopt(make_selections(self.choices, todo, jobs))

    def _keep(self, key: tuple, rows_key: str, result: list[str] | str) -> None:
        if isinstance(result, str):  # a failed selection, e.g. a singular matrix on 16 rows: counted and
            # reported; the selector chose nothing, so its predictor is the base rate
            self.failures[key[0]] = self.failures.get(key[0], 0) + 1
            log.debug("feature set %s on %s: selection failed (%s); empty set", key[0], rows_key, result)
            result = []
        self._made[key] = result


def make_selections(
    choices: dict[str, FeatureChoice], tasks: list[tuple[str, str, Labelled, int]], jobs: int
) -> dict[tuple[str, str], list[str] | str]:
    """Each task's choice, ``(name, rows key) -> features`` (or the error's text), in ``jobs``
    processes (joblib): causal discovery on every label subsample is most of the limited regime's cost."""
    from joblib import Parallel, delayed

    started = time.perf_counter()
    log.info(
        "predictors: %d selections by %s on the training rows of every regime and label subsample, in %s",
        len(tasks),
        ", ".join(dict.fromkeys(task[0] for task in tasks)),
        "every core" if jobs == -1 else f"{jobs} process(es)",
    )
    made = Parallel(n_jobs=jobs, batch_size="auto")(  # the workers import feature_sets alone
        delayed(select_safely)(choices[name].selector, rows.x.numpy(), rows.y.numpy()) for name, _, rows, _ in tasks
    )
    log.info("predictors: selections made in %.0f s", time.perf_counter() - started)
    return {(name, rows_key): result for (name, rows_key, _, _), result in zip(tasks, made)}


FeatureSets = dict[str, "list[str] | Callable[[int], list[str]] | FeatureChoice"]


def _as_choices(feature_sets: FeaturePlan | FeatureSets) -> dict[str, FeatureChoice]:
    """A plan's choices; or, for a plain mapping, lists as fixed sets and functions of the replicate as draws."""
    if isinstance(feature_sets, FeaturePlan):
        return feature_sets.choices
    choices = {}
    for name, chosen in feature_sets.items():
        if isinstance(chosen, FeatureChoice):
            choices[name] = chosen
        elif callable(chosen):
            choices[name] = FeatureChoice(lambda rows, replicate, f=chosen: list(f(replicate)), uses_replicate=True)
        else:
            choices[name] = FeatureChoice.fixed(chosen)
    return choices


def _metrics(p: torch.Tensor, y: torch.Tensor, fitted: bool) -> dict[str, float]:
    """AUROC, AUPRC and accuracy of probabilities ``p``; an empty feature set predicts the base rate."""
    if not fitted:
        return {"auroc": 0.5, "auprc": float(y.float().mean()), "acc": float("nan")}
    return probability_metrics(p, y)


@dataclass(frozen=True)
class _Fit:
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
        self.selections = _Selections(choices)
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
        fits: list[_Fit],
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
            fits = [_Fit(("supervised", seed), data.train, features[seed], seed) for seed in seeds]
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
        models = self.fit(name, [_Fit(("unsupervised", seed), train, features[seed], seed) for seed in seeds], val)
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
                        _Fit(
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
            fits += [_Fit(("limited", n, r), subsets[r], features[r], r, l2=l2) for r in subsamples]
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
    runner = _RegimeRunner(data, _as_choices(feature_sets), settings, subsample, regimes)
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
