"""The schemas of the method's stages: ``perturbation``, ``graph``, ``predictor`` and ``ensemble``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from latentgraph.config.choices import (
    AUTO,
    Base,
    EmptyBlanket,
    EnsembleOracles,
    FeatureSet,
    LatentScale,
    PredictorModel,
    Regime,
    RegimeChoice,
    Selection,
    Sem,
    Structure,
    Threshold,
)
from latentgraph.config.validation import check, positive

# the steps of the perturbation, in units of each latent's spread (a list field needs its default built)
DELTAS: tuple[float, ...] = (-2.0, 2.0)


@dataclass
class PerturbationConfig:
    """Perturbation experiment (docs/method.md §4), run by the PerturbationCallback at fit end."""

    enabled: bool = True
    n_base: int = 256  # base codes N
    deltas: list[float] = field(default_factory=lambda: list(DELTAS))  # steps in units of each latent's spread
    # posterior: codes of held-out corpus sequences (on the learned manifold); prior: N(0, I)
    base: Base = Base.posterior
    latent_scale: LatentScale = LatentScale.data  # data: each latent's std over encoded held-out sequences; unit: 1
    batch_size: int = 4096  # perturbed codes decoded and scored per chunk (the memory bound)
    n_permutations: int | None = None  # sign flips per test; null: enough for one pair to pass BH at alpha 0.05 alone
    n_directions: int = 16  # random unit directions of the null that graph.min_effect=auto tests against

    def __post_init__(self) -> None:
        check(self.n_directions >= 0, "n_directions", self.n_directions, "must be >= 0 (0: no random-direction null)")
        check(self.n_base >= 2, "n_base", self.n_base, "must be >= 2 (the edge test pairs base codes)")
        positive(self, "batch_size")
        check(
            len(self.deltas) > 0 and all(d != 0 for d in self.deltas),
            "deltas",
            list(self.deltas),
            "must be a non-empty list of non-zero steps",
        )
        check(
            self.n_permutations is None or self.n_permutations >= 99,
            "n_permutations",
            self.n_permutations,
            "must be >= 99 or null (automatic)",
        )


@dataclass
class GraphConfig:
    """Edge test and graph structure (docs/method.md §4-5)."""

    threshold: Threshold = Threshold.fdr  # fdr: q < alpha and the effect rule (min_effect); fixed: S >= tau
    alpha: float = 0.05
    # "auto": beat the random-direction null (docs/method.md §5c); a number: the floor S >= min_effect
    min_effect: Any = AUTO
    tau: float = 0.1
    # gradient_covariance: partial correlations of the attributes' gradients, the most reproducible graph
    # measured without labels (docs/method.md §5d); footprint: strict footprint inclusion, the paper's literal
    # reading (experiment=footprint); shared_latent: any shared latent
    structure: Structure = Structure.gradient_covariance
    sem: Sem = Sem.linear  # structural equations: linear or mlp
    # the target's blanket is empty: skip (say so; no comparison needs it), all (every feature attribute; its
    # comparison with all is then not made) or fail
    empty_blanket: EmptyBlanket = EmptyBlanket.skip
    bootstrap: int = 50  # B resamples of the base codes: edge and blanket frequencies (graph/stability.json)

    def __post_init__(self) -> None:
        check(0 < self.alpha < 1, "alpha", self.alpha, "must be in (0, 1)")
        check(
            self.min_effect == AUTO
            or (
                isinstance(self.min_effect, (int, float))
                and not isinstance(self.min_effect, bool)
                and self.min_effect >= 0
            ),
            "min_effect",
            self.min_effect,
            "must be 'auto' or a number >= 0",
        )
        check(self.tau >= 0, "tau", self.tau, "must be >= 0")
        check(self.bootstrap >= 0, "bootstrap", self.bootstrap, "must be >= 0 (0: no bootstrap)")


@dataclass
class PredictorConfig:
    """Predictors on attribute features (docs/method.md §6)."""

    model: PredictorModel = PredictorModel.logistic  # logistic or mlp, on standardised attributes
    seeds: int = 5
    regime: RegimeChoice = RegimeChoice.all  # all, or one of supervised, unsupervised, fewshot, limited
    feature_sets: list[FeatureSet] = field(default_factory=lambda: list(FeatureSet))
    fewshot_k: list[int] = field(default_factory=lambda: [8, 16, 32, 64])  # OOD examples a model is fine-tuned on
    limited_n: list[int] = field(default_factory=lambda: [16, 32, 64, 128])  # labelled ID training sizes
    limited_subsamples: int = 50  # label subsamples per n, the same rows for every feature set
    # the limited regime: L2 prior 1/(2·C·n) on the weights, a fixed budget of max_steps, no early stopping
    limited_c: float = 1.0
    # regime: each selection baseline chooses from the labelled rows its predictor trains on (limited: its n
    # labels); full_train: always from the whole ID training split (a second, named protocol)
    selection: Selection = Selection.regime
    jobs: int = -1  # processes for the selection baselines on every label subsample (joblib; -1: every core)
    prior_samples: int = 2000  # the unsupervised regime: prior decodes labelled by the target oracle
    max_steps: int = 500  # full-batch AdamW steps (supervised, unsupervised: early stopping on the ID val loss)
    patience: int = 25
    lr: float = 1e-2
    fewshot_steps: int = 100
    fewshot_lr: float = 3e-3

    @property
    def regimes(self) -> list[str]:
        """The regimes to run: every one for ``regime=all``, else the one named."""
        return list(Regime.values()) if self.regime == RegimeChoice.all else [str(self.regime)]

    def __post_init__(self) -> None:
        check(self.seeds >= 1, "seeds", self.seeds, "must be >= 1")
        check(
            len(self.feature_sets) > 0,
            "feature_sets",
            list(self.feature_sets),
            f"must be a non-empty list of {', '.join(FeatureSet.values())}",
        )
        check(all(k >= 2 for k in self.fewshot_k), "fewshot_k", list(self.fewshot_k), "every k must be >= 2")
        check(all(n >= 4 for n in self.limited_n), "limited_n", list(self.limited_n), "every n must be >= 4")
        check(self.prior_samples >= 20, "prior_samples", self.prior_samples, "must be >= 20")
        check(self.limited_subsamples >= 2, "limited_subsamples", self.limited_subsamples, "must be >= 2")
        check(self.jobs == -1 or self.jobs >= 1, "jobs", self.jobs, "must be -1 (every core) or >= 1")
        positive(self, "limited_c")
        positive(self, "max_steps", "patience", "lr", "fewshot_steps", "fewshot_lr")


@dataclass
class EnsembleConfig:
    """Confidence across autoencoders (docs/method.md §5b): ``size`` fits, seeds ``seed … seed+size−1``."""

    size: int = 1  # 1: one autoencoder, no consensus
    threshold: float = 0.5  # a consensus-blanket member's frequency over the fits must reach this
    oracles: EnsembleOracles = EnsembleOracles.shared  # per_member: each member's classifiers at its own seed
    # true: this job is one member, a job of a multirun over seed (experiment=ensemble_jobs); it stops
    # after its graph, and when every member has finished the sweep runs the ensemble (consensus, predictors)
    jobs: bool = False
    # true: the package's pre-trained members (seeds 100-104, docs/method.md §3b) join the run's own
    # fits wherever they serve it honestly: the same corpus, the same recipe, no OOD sequence seen
    shipped: bool = True
    shipped_dir: str | None = None  # a folder of members (members.json beside them); null: the package's

    def __post_init__(self) -> None:
        check(self.size >= 1, "size", self.size, "must be >= 1")
        check(0 < self.threshold <= 1, "threshold", self.threshold, "must be in (0, 1]")
