"""Which attributes each feature set holds: fixed sets, the blanket, the size-matched and causal
discovery baselines (chosen on each regime's labelled rows), and the cache of choices made once
(docs/method.md §6)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from latentgraph.config.choices import FeatureSet
from latentgraph.predictors.feature_sets import Selector, random_features, select_safely
from latentgraph.predictors.labelled import Labelled

log = logging.getLogger(__name__)


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


class SelectionCache:
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


def as_choices(feature_sets: FeaturePlan | FeatureSets) -> dict[str, FeatureChoice]:
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
