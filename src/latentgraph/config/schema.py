"""Structured-config schemas for every config group (the Hydra structured-config pattern).

The yaml files under ``conf/`` extend these dataclasses, so a wrong type or an unknown key fails
when Hydra composes the config. Range checks live in ``__post_init__``; OmegaConf does not run
them while merging, so :func:`validate_config` instantiates every node (``OmegaConf.to_object``)
and reports every failure at once, each with its full key, e.g. ``model.latent_dim``.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, is_dataclass, replace
from difflib import get_close_matches
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from latentgraph.config.choices import (
    AUTO,
    DESCRIPTOR_NAMES,
    EXTERNAL_MODELS,
    MOLECULE_DESCRIPTOR_NAMES,
    AlphabetName,
    BadRecordPolicy,
    Base,
    DecodeMode,
    Domain,
    EmptyBlanket,
    EnsembleOracles,
    FeatureSet,
    LatentScale,
    LrSchedule,
    Mode,
    Overlap,
    PredictorModel,
    Recurrence,
    Regime,
    RegimeChoice,
    Regularizer,
    Selection,
    Sem,
    Stage,
    StereoPolicy,
    Structure,
    Threshold,
)
from latentgraph.errors import ConfigValueError, InvalidConfigValues

# While validate_config checks a node, a failed check is collected here instead of raised, so every
# bad value of the node is named at once; outside validation (a schema built in Python) it raises.
_COLLECTED: ContextVar[list[ConfigValueError] | None] = ContextVar("collected_config_errors", default=None)


def _check(ok: bool, key: str, value: Any, requirement: str) -> None:
    if ok:
        return
    error = ConfigValueError(key, value, requirement)
    collected = _COLLECTED.get()
    if collected is None:
        raise error
    collected.append(error)


def _positive(node: Any, *names: str) -> None:
    for name in names:
        value = getattr(node, name)
        _check(value is not None and value > 0, name, value, "must be > 0")


def _fraction(node: Any, name: str, *, closed_right: bool = False) -> None:
    value = getattr(node, name)
    ok = 0 <= value <= 1 if closed_right else 0 <= value < 1
    _check(ok, name, value, "must be in [0, 1]" if closed_right else "must be in [0, 1)")


@dataclass
class DataConfig:
    """Data layer (docs/method.md §1). A source is ``modlamp:NAME``, a .csv file (sequence and label
    columns) or a FASTA file."""

    id_source: str = "modlamp:AMPvsUniProt"  # the labelled in-distribution set, split train/val/test
    # out-of-distribution sets, deduplicated against every ID sequence
    ood_sources: list[str] = field(default_factory=lambda: ["modlamp:AMPvsTM"])
    ood_csv: list[str] = field(default_factory=list)  # more OOD sets: CSVs (sequence,label), named by file stem
    # extra unlabelled sequences for the autoencoder (modlamp, CSV or FASTA)
    corpus_sources: list[str] = field(default_factory=lambda: ["modlamp:ACPvsRandom", "modlamp:ACPvsTM"])
    target: str = "amp"  # the label column predicted downstream
    max_len: int = 50
    bad_records: BadRecordPolicy = (
        BadRecordPolicy.drop
    )  # drop (counted, data/dropped.csv) or strict (an error naming it)
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    corpus_val_fraction: float = 0.1  # the held-out part of the autoencoder corpus (reconstruction metrics)
    corpus_limit: int | None = None  # a cap on the autoencoder corpus (smoke runs)
    overlap: Overlap = (
        Overlap.drop_from_id
    )  # a sequence in an OOD set and the ID set leaves the ID set (or the OOD set)
    # each OOD sequence's nearest-neighbour identity to the ID training split and to the corpus:
    # measured and reported (data/summary.json, the report); max_identity drops OOD sequences above it
    identity: bool = True
    max_identity: float | None = None
    augment_substitution: float = 0.1  # training batches: the residue substitution rate
    augment_crop: float = 0.5  # training batches: the fraction of rows cropped to a random window
    bucket_by_length: bool = False  # batches of similar length: faster epochs, not faster to accuracy
    batch_size: int = 64
    num_workers: int = 0
    alphabet: AlphabetName = AlphabetName.peptides  # how sequences are written (domain=molecules: selfies)
    # molecules: keep stereochemistry as written (SELFIES: a record it cannot write is dropped, counted) or strip it
    stereo: StereoPolicy = StereoPolicy.keep

    def __post_init__(self) -> None:
        _positive(self, "max_len", "batch_size")
        _check(self.max_len <= 1000, "max_len", self.max_len, "must be <= 1000")
        _fraction(self, "val_fraction")
        _fraction(self, "test_fraction")
        _check(
            self.val_fraction + self.test_fraction < 1,
            "test_fraction",
            self.test_fraction,
            "val_fraction + test_fraction must be < 1",
        )
        _fraction(self, "corpus_val_fraction")
        _fraction(self, "augment_substitution")
        _fraction(self, "augment_crop", closed_right=True)
        _check(
            self.corpus_limit is None or self.corpus_limit > 1, "corpus_limit", self.corpus_limit, "must be > 1 or null"
        )
        _check(self.num_workers >= 0, "num_workers", self.num_workers, "must be >= 0")
        _check(
            self.max_identity is None or 0 < self.max_identity <= 1,
            "max_identity",
            self.max_identity,
            "must be in (0, 1] (the highest identity an OOD sequence may have to an ID or corpus sequence) or null",
        )
        _check(bool(self.target), "target", self.target, "must name a label column")
        _check(
            self.stereo == StereoPolicy.keep or self.alphabet != AlphabetName.peptides,
            "stereo",
            self.stereo,
            "applies to molecule alphabets only (data.alphabet=selfies or smiles; domain=molecules)",
        )


@dataclass
class ModelConfig:
    """The autoencoder (docs/method.md §3): the built-in WAE's settings, or where a pre-trained or
    custom one comes from."""

    latent_dim: int = 128
    embedding_dim: int = 64
    encoder_hidden: int = 128
    decoder_hidden: int = 256
    encoder_layers: int = 1
    decoder_layers: int = 1
    word_dropout: float = 0.8  # high on purpose: the decoder must read z, not its own prefix
    regularizer: Regularizer = Regularizer.mmd_rf  # mmd_rf (WAE) or kl (VAE)
    beta: float = 1.0
    beta_start: float = 0.0
    beta_anneal_steps: int = 1000
    rf_features: int = 512
    mmd_sigma: float | None = None  # RBF bandwidth; null = sqrt(latent_dim)
    lr: float = 3e-3
    lr_schedule: LrSchedule = LrSchedule.constant  # constant or cosine (decayed to 0 over the fit's steps)
    max_len: int = 50
    decode: DecodeMode = DecodeMode.greedy  # greedy or sample
    temperature: float = 1.0
    prior_samples: int = 256  # prior draws per validation epoch for the validity and uniqueness metrics
    positional: bool = True  # position embeddings on encoder and decoder inputs (docs/design-choices.md)
    folded_decode: bool = True  # decode with the input projection folded into tables (same logits, faster)
    recurrence: Recurrence = Recurrence.auto  # training GRUs: packed (CPU) or nn (GPU); same function
    # fit: the run fits its WAE; shipped (model=pretrained): the shipped members are the run's fits, nothing is fitted;
    # custom (model=custom): the user's own autoencoder, built from _target_ with args, nothing fitted
    source: str = "fit"
    # model=pretrained model.checkpoint=PATH: this latentgraph WAE checkpoint is the run's autoencoder instead
    checkpoint: str | None = None
    # model=custom model._target_=PKG.MODULE.NAME +model.args.latent_dim=16: a class or factory, called with args
    _target_: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.source in ("fit", "shipped", "custom"), "source", self.source, "must be fit, shipped or custom")
        _check(
            self.source != "custom" or "." in str(self._target_ or ""),
            "_target_",
            self._target_,
            "model=custom builds your autoencoder from model._target_=PKG.MODULE.NAME (a class or factory)",
        )
        _check(
            self._target_ is None or self.source == "custom",
            "_target_",
            self._target_,
            "names your own autoencoder: use it with model=custom",
        )
        _check(
            self.checkpoint is None or self.source == "shipped",
            "checkpoint",
            self.checkpoint,
            "loads a pre-trained WAE: use it with model=pretrained",
        )
        _positive(
            self,
            "latent_dim",
            "embedding_dim",
            "encoder_hidden",
            "decoder_hidden",
            "encoder_layers",
            "decoder_layers",
            "rf_features",
            "lr",
            "max_len",
            "temperature",
            "prior_samples",
        )
        _fraction(self, "word_dropout")
        for name in ("beta", "beta_start"):
            value = getattr(self, name)
            _check(value >= 0 and math.isfinite(value), name, value, "must be finite and >= 0")
        _check(self.beta_anneal_steps >= 0, "beta_anneal_steps", self.beta_anneal_steps, "must be >= 0")
        _check(self.mmd_sigma is None or self.mmd_sigma > 0, "mmd_sigma", self.mmd_sigma, "must be > 0 or null")
        _check(
            self.recurrence != Recurrence.packed or self.encoder_layers == 1,
            "recurrence",
            str(self.recurrence),
            f"packed runs a one-layer encoder (encoder_layers={self.encoder_layers}); use auto or nn",
        )


@dataclass
class ClassifierSpec:
    """Where a trained attribute classifier gets its labelled data."""

    train_source: str = "id"  # a labelled source spec; "id" = this run's ID splits
    ood_sources: list[str] = field(default_factory=list)  # reported AUROC only


@dataclass
class OracleSpec:
    """A user's attribute model (``attributes.oracles.<name>``): any callable from sequences to scores.

    ``_target_`` names a function (called on a list of sequences, with ``args`` as keyword
    arguments) or a class (built once with ``args``, then called on the sequences). It returns
    ``[n]`` or ``[n, k]``; its columns are ``columns``, else the callable's own ``names``, else
    ``[<name>]``. ``oracle_for``: the labelled targets it predicts (one for all its columns, or one
    per column); an oracle of the run's target is never a feature. ``labels_seen``: what the user
    declares it was trained on; the report states it beside the verdict.
    """

    _target_: str
    oracle_for: list[str] = field(default_factory=list)
    labels_seen: str = "none declared"
    columns: list[str] | None = None
    args: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, name: str, entry: Any) -> OracleSpec:
        """The spec of ``attributes.oracles.<name>``, each bad or unknown key named in full."""
        key = f"oracles.{name}"
        if isinstance(entry, OracleSpec):
            return entry
        if not isinstance(entry, dict):
            _check(False, key, entry, "must be a mapping with _target_ (and oracle_for, labels_seen, columns, args)")
            return cls(_target_="")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(entry) - known)
        first = f"{key}.{unknown[0]}" if unknown else key
        _check(not unknown, first, entry, f"unknown key(s) {unknown}; known: {sorted(known)}")
        target = str(entry.get("_target_") or "")
        _check("." in target, f"{key}._target_", target or None, "must name a callable: PKG.MODULE.NAME")
        oracle_for, columns = entry.get("oracle_for") or [], entry.get("columns")
        _check(isinstance(oracle_for, list), f"{key}.oracle_for", oracle_for, "must be a list of target names")
        _check(columns is None or isinstance(columns, list), f"{key}.columns", columns, "must be a list of names")
        labels = str(entry.get("labels_seen", "none declared"))
        _check(bool(labels.strip()), f"{key}.labels_seen", labels, "must say what labels it was trained on, or none")
        args = entry.get("args") or {}
        _check(isinstance(args, dict), f"{key}.args", args, "must be a mapping of keyword arguments")
        return cls(target, [str(t) for t in oracle_for], labels, columns, dict(args) if isinstance(args, dict) else {})


@dataclass
class ClassifierTrainingConfig:
    epochs: int = 15
    batch_size: int = 64
    embedding_dim: int = 32
    channels: int = 64
    kernel_sizes: str = "3,5,7"
    dropout: float = 0.3
    lr: float = 3e-3
    # the classifiers' own seed; null = the run's seed. Fix it (e.g. 0) to compare ensembles of
    # autoencoders at different seeds against the same oracles (docs/results.md)
    seed: int | None = None

    def __post_init__(self) -> None:
        _positive(self, "epochs", "batch_size", "embedding_dim", "channels", "lr")
        _check(self.seed is None or self.seed >= 0, "seed", self.seed, "must be null or a non-negative integer")
        _fraction(self, "dropout")
        ok = all(part.strip().isdigit() and int(part) > 0 for part in self.kernel_sizes.split(","))
        _check(ok, "kernel_sizes", self.kernel_sizes, "must be comma-separated positive integers, e.g. '3,5,7'")

    def model_kwargs(self) -> dict:
        """The ``SequenceClassifier`` arguments (``epochs`` and ``batch_size`` are the training loop's)."""
        return {
            "embedding_dim": self.embedding_dim,
            "channels": self.channels,
            "kernel_sizes": self.kernel_sizes,
            "dropout": self.dropout,
            "lr": self.lr,
        }


def _all_descriptors() -> list[str]:
    return list(DESCRIPTOR_NAMES)


@dataclass
class AttributesConfig:
    """Attribute oracles (docs/method.md §2): descriptors, trained classifiers, external models.

    The default set is the twelve vectorised descriptors plus macrel's pre-trained ONNX AMP and
    haemolysis models (columns ``macrel_amp``, ``macrel_hemolysis``). The target's oracle,
    ``macrel_amp``, saw none of the run's labels: the paper's "pre-trained attribute classifier".
    ``attributes=trained`` trains classifiers instead (``data=acp`` uses them).

    ``set`` names the combination for reports; ``descriptors``, ``use_classifiers`` and
    ``external`` say what it holds. The trained classifiers are cached by their settings.
    """

    set: str = "default"
    descriptors: list[str] = field(default_factory=_all_descriptors)
    use_classifiers: bool = False  # the default target oracle is pre-trained (macrel's AMP model)
    external: list[str] = field(default_factory=lambda: ["macrel"])
    # empty here so a domain's attribute config replaces the classifiers instead of adding to them;
    # conf/attributes/trained.yaml gives the peptide ones (amp, acp)
    classifiers: dict[str, ClassifierSpec] = field(default_factory=dict)
    classifier: ClassifierTrainingConfig = field(default_factory=ClassifierTrainingConfig)
    # the user's own attribute models, by name: +attributes.oracles.tox._target_=mypkg.oracles.tox_score
    # (untyped here so that `+attributes.oracles.<name>.<key>=…` can add one from the command line;
    # each entry is checked as an OracleSpec, its keys named in full)
    oracles: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = [*DESCRIPTOR_NAMES, *MOLECULE_DESCRIPTOR_NAMES]  # which fit the alphabet: Config checks
        unknown = [name for name in self.descriptors if name not in known]
        _check(not unknown, "descriptors", list(self.descriptors), f"unknown {unknown}; known: {', '.join(known)}")
        _check(
            len(set(self.descriptors)) == len(self.descriptors),
            "descriptors",
            list(self.descriptors),
            "lists a descriptor twice",
        )
        bad = [name for name in self.external if name not in EXTERNAL_MODELS]
        _check(not bad, "external", list(self.external), f"unknown model(s) {bad}; known: {', '.join(EXTERNAL_MODELS)}")
        self.oracles = {str(name): OracleSpec.from_entry(str(name), entry) for name, entry in self.oracles.items()}
        has_any = self.descriptors or (self.use_classifiers and self.classifiers) or self.external or self.oracles
        nothing = "holds no attribute: give descriptors, classifiers, external models or oracles"
        _check(bool(has_any), "set", self.set, nothing)


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
    n_directions: int = 16  # random unit directions of the control that graph.min_effect=auto tests against

    def __post_init__(self) -> None:
        _check(self.n_directions >= 0, "n_directions", self.n_directions, "must be >= 0 (0: no control)")
        _check(self.n_base >= 2, "n_base", self.n_base, "must be >= 2 (the edge test pairs base codes)")
        _positive(self, "batch_size")
        _check(
            len(self.deltas) > 0 and all(d != 0 for d in self.deltas),
            "deltas",
            list(self.deltas),
            "must be a non-empty list of non-zero steps",
        )
        _check(
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
    # "auto": beat the random-direction control (docs/method.md §5c); a number: the floor S >= min_effect
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
        _check(0 < self.alpha < 1, "alpha", self.alpha, "must be in (0, 1)")
        _check(
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
        _check(self.tau >= 0, "tau", self.tau, "must be >= 0")
        _check(self.bootstrap >= 0, "bootstrap", self.bootstrap, "must be >= 0 (0: no bootstrap)")


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
        _check(self.seeds >= 1, "seeds", self.seeds, "must be >= 1")
        _check(
            len(self.feature_sets) > 0,
            "feature_sets",
            list(self.feature_sets),
            f"must be a non-empty list of {', '.join(FeatureSet.values())}",
        )
        _check(all(k >= 2 for k in self.fewshot_k), "fewshot_k", list(self.fewshot_k), "every k must be >= 2")
        _check(all(n >= 4 for n in self.limited_n), "limited_n", list(self.limited_n), "every n must be >= 4")
        _check(self.prior_samples >= 20, "prior_samples", self.prior_samples, "must be >= 20")
        _check(self.limited_subsamples >= 2, "limited_subsamples", self.limited_subsamples, "must be >= 2")
        _check(self.jobs == -1 or self.jobs >= 1, "jobs", self.jobs, "must be -1 (every core) or >= 1")
        _positive(self, "limited_c")
        _positive(self, "max_steps", "patience", "lr", "fewshot_steps", "fewshot_lr")


@dataclass
class TrainerConfig:
    """Keyword arguments of ``pytorch_lightning.Trainer``."""

    _target_: str = "pytorch_lightning.Trainer"
    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    use_distributed_sampler: bool = False  # the datamodule shards its own resumable order across ranks
    max_epochs: int = 60
    max_steps: int = -1
    gradient_clip_val: float = 1.0
    log_every_n_steps: int = 10
    check_val_every_n_epoch: int = (
        10  # each validation costs about 1 s of a default fit; the fit's end always validates
    )
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = 1.0
    num_sanity_val_steps: int = 0
    deterministic: bool = False
    precision: Any = 32
    enable_progress_bar: bool = True
    enable_model_summary: bool = True  # the parameter table at the start of a fit

    def __post_init__(self) -> None:
        _check(self.max_epochs >= 1 or self.max_steps > 0, "max_epochs", self.max_epochs, "must be >= 1")
        _check(self.max_steps == -1 or self.max_steps > 0, "max_steps", self.max_steps, "must be -1 or > 0")
        _positive(self, "log_every_n_steps", "check_val_every_n_epoch")
        _check(self.gradient_clip_val >= 0, "gradient_clip_val", self.gradient_clip_val, "must be >= 0")
        for name in ("limit_train_batches", "limit_val_batches"):
            value = getattr(self, name)
            _check(isinstance(value, (int, float)) and value > 0, name, value, "must be a positive int or fraction")


@dataclass
class CsvLoggerConfig:
    """A CSV logger always; W&B offline by default (``wandb sync <run>/wandb/offline-run-*`` uploads later)."""

    name: str = "csv"


@dataclass
class WandbLoggerConfig:
    enabled: bool = True
    offline: bool = True  # no account needed; `wandb sync` uploads later
    mode: str | None = None  # "disabled" turns W&B into a no-op (tests)
    project: str = "latentgraph"
    entity: str | None = None
    group: str | None = None  # null: the sweep directory in a multirun, else none
    job_type: str | None = None  # null: the CLI stage ("pipeline" for stage=all, "graph" for stage=graph)
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check(
            self.mode in (None, "online", "offline", "disabled"),
            "mode",
            self.mode,
            "must be null, 'online', 'offline' or 'disabled'",
        )


@dataclass
class LoggerConfig:
    csv: CsvLoggerConfig = field(default_factory=CsvLoggerConfig)
    wandb: WandbLoggerConfig = field(default_factory=WandbLoggerConfig)
    # your own Lightning loggers beside those two, built the Hydra way:
    #   +logger.extra.tb._target_=pytorch_lightning.loggers.TensorBoardLogger +logger.extra.tb.save_dir=tb
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_targets("extra", self.extra)


def _check_targets(key: str, entries: dict[str, Any]) -> None:
    """Each entry of a ``_target_`` mapping names a class (``PKG.MODULE.NAME``); its other keys are its arguments."""
    for name, entry in entries.items():
        target = entry.get("_target_") if isinstance(entry, dict) else None
        _check(
            isinstance(target, str) and "." in target,
            f"{key}.{name}._target_",
            target,
            "must name a class: PKG.MODULE.NAME (its other keys are its arguments)",
        )


@dataclass
class CheckpointConfig:
    monitor: str = "val/recon"
    mode: Mode = Mode.min
    save_top_k: int = 1
    every_n_train_steps: int = 50  # how often last.ckpt is refreshed, so a killed fit loses little

    def __post_init__(self) -> None:
        _check(self.save_top_k >= 1, "save_top_k", self.save_top_k, "must be >= 1")
        _positive(self, "every_n_train_steps")


@dataclass
class EarlyStoppingConfig:
    enabled: bool = False
    monitor: str = "val/recon"
    mode: Mode = Mode.min  # "max" for a metric where higher is better (val/token_acc)
    patience: int = 5

    def __post_init__(self) -> None:
        _positive(self, "patience")


@dataclass
class CallbacksConfig:
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    rich_progress_bar: bool = True
    # your own Lightning callbacks for the fit, built the Hydra way (lightning-hydra-template's layout):
    #   +callbacks.extra.swa._target_=pytorch_lightning.callbacks.StochasticWeightAveraging
    #   +callbacks.extra.swa.swa_lrs=0.01
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_targets("extra", self.extra)


@dataclass
class PathsConfig:
    run_dir: str = "${hydra:runtime.output_dir}"
    cache_dir: str = "${oc.env:LATENTGRAPH_CACHE,${oc.env:HOME,.}/.cache/latentgraph}"
    # how long a job waits for another job computing the same cache entry before it stops with an
    # error naming the holder's host and pid (null: without a limit)
    lock_timeout_s: float | None = 86_400.0

    def __post_init__(self) -> None:
        _check(
            self.lock_timeout_s is None or self.lock_timeout_s > 0,
            "lock_timeout_s",
            self.lock_timeout_s,
            "must be > 0 or null",
        )


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
        _check(self.size >= 1, "size", self.size, "must be >= 1")
        _check(0 < self.threshold <= 1, "threshold", self.threshold, "must be in (0, 1]")


@dataclass
class ControlConfig:
    """The positive control (docs/method.md §8, ``control=planted``): the target becomes a label drawn
    from a known function of planted descriptors (its oracle, ``planted_score``, joins the attribute
    set), and ``spurious`` agrees with that label on a fraction ``agreement`` of the ID rows and on
    ``1 − agreement`` of the OOD rows. The autoencoder is the run's own (its key does not change)."""

    enabled: bool = False
    target: str = "planted"
    members: list[str] = field(default_factory=lambda: ["charge_density", "hydrophobic_moment", "aromaticity"])
    weights: list[float] = field(default_factory=lambda: [1.5, 1.0, -1.0])
    noise: float = 0.5  # scale of the logistic noise added to the planted logit
    spurious: str = "length"
    agreement: float = 0.85
    seed: int = 0

    def __post_init__(self) -> None:
        _check(bool(self.target), "target", self.target, "must name the planted label")
        _check(bool(self.members), "members", list(self.members), "must name at least one descriptor")
        for key, names in (("members", list(self.members)), ("spurious", [self.spurious])):
            unknown = sorted(set(names) - set(DESCRIPTOR_NAMES))
            _check(not unknown, key, names, f"must be peptide descriptors ({', '.join(DESCRIPTOR_NAMES)})")
        _check(self.spurious not in self.members, "spurious", self.spurious, "must not be a planted member")
        _check(len(self.weights) == len(self.members), "weights", list(self.weights), "needs one weight per member")
        _check(self.noise >= 0, "noise", self.noise, "must be >= 0")
        _check(0.5 < self.agreement < 1, "agreement", self.agreement, "must be in (0.5, 1)")


@dataclass
class Config:
    domain: Domain = Domain.peptides  # peptides | molecules (conf/domain/): alphabet, sources, attributes
    seed: int = 0
    ckpt_path: str | None = None  # a checkpoint to continue from; "last": same as resume=true
    resume: bool = False  # continue the interrupted fit with the same settings from its last.ckpt
    stage: Stage = Stage.all  # all: every stage; graph: rebuild the graph from run_dir's saved effects
    run_dir: str | None = None  # the earlier run that stage=graph reads
    runs: list[str] = field(default_factory=list)  # the finished runs that stage=consensus reads
    optimized_metric: str = "val/recon"  # what the app returns to a sweeper (hparams_search)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    attributes: AttributesConfig = field(default_factory=AttributesConfig)
    perturbation: PerturbationConfig = field(default_factory=PerturbationConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def __post_init__(self) -> None:
        _check(self.seed >= 0, "seed", self.seed, "must be >= 0")
        self._check_stages()
        self._check_domain()

    def _check_stages(self) -> None:
        """Rules across the stage, graph, ensemble and resume settings."""
        _check(
            not self.control.enabled or self.data.alphabet == "peptides",
            "control.enabled",
            self.control.enabled,
            "the planted control is built from peptide descriptors; use it with domain=peptides",
        )
        _check(
            self.stage != "graph" or self.run_dir is not None,
            "run_dir",
            self.run_dir,
            "stage=graph needs run_dir=<an earlier run directory holding perturbation/>",
        )
        _check(
            not (
                self.graph.min_effect == AUTO and self.graph.threshold == "fdr" and self.perturbation.n_directions == 0
            ),
            "graph.min_effect",
            self.graph.min_effect,
            "auto tests each edge against the random-direction control, which perturbation.n_directions=0 turns "
            "off; set perturbation.n_directions > 0 or graph.min_effect to a number",
        )
        _check(
            self.stage != "consensus" or len(self.runs) >= 2,
            "runs",
            list(self.runs),
            "stage=consensus needs runs=[DIR,DIR,...]: at least two finished run directories",
        )
        _check(
            self.ensemble.size == 1 or not str(self.trainer.strategy).startswith("ddp"),
            "ensemble.size",
            self.ensemble.size,
            "an ensemble fits its autoencoders one after another in one process; with DDP, run one "
            "job per seed and combine them with stage=consensus runs=[...]",
        )
        _check(
            self.ensemble.size == 1 or self.ckpt_path is None,
            "ensemble.size",
            self.ensemble.size,
            f"ckpt_path={self.ckpt_path} names one fit; an ensemble resumes its members with resume=true",
        )
        _check(
            self.ensemble.oracles == EnsembleOracles.shared or self.attributes.classifier.seed is None,
            "ensemble.oracles",
            str(self.ensemble.oracles),
            f"per_member trains each member's classifiers at the member's seed, but attributes.classifier.seed="
            f"{self.attributes.classifier.seed} fixes one seed for all; drop one of the two",
        )
        _check(
            not self.resume or self.ckpt_path in (None, "last"),
            "resume",
            self.resume,
            f"resume=true finds the checkpoint itself; drop it or ckpt_path={self.ckpt_path}",
        )

    def _check_domain(self) -> None:
        """The alphabet, descriptors and lengths fit the domain."""
        molecular = self.data.alphabet != AlphabetName.peptides
        _check(
            molecular == (self.domain == Domain.molecules),
            "data.alphabet",
            str(self.data.alphabet),
            f"does not fit domain={self.domain}: peptides take data.alphabet=peptides, molecules selfies or smiles",
        )
        fitting = MOLECULE_DESCRIPTOR_NAMES if self.domain == Domain.molecules else DESCRIPTOR_NAMES
        misfits = [name for name in self.attributes.descriptors if name not in fitting]
        _check(
            not misfits,
            "attributes.descriptors",
            list(self.attributes.descriptors),
            f"{misfits} are not {self.domain} descriptors; known: {', '.join(fitting)}",
        )
        _check(
            self.model.max_len == self.data.max_len,
            "model.max_len",
            self.model.max_len,
            f"must equal data.max_len={self.data.max_len}",
        )


def with_changes(settings: Any, **changes: Any) -> Any:
    """``settings`` (a schema dataclass) with some values replaced by name and checked again; a name
    that is not one of its settings raises ``TypeError`` naming it and the known ones."""
    known = [f.name for f in fields(settings)]
    unknown = sorted(set(changes) - set(known))
    if unknown:
        raise TypeError(f"{unknown} are not {type(settings).__name__} settings; known: {', '.join(known)}")
    return replace(settings, **changes) if changes else settings


def register_configs() -> None:
    """Register the schema as ``base_config``; ``conf/config.yaml`` lists it first in its defaults.

    Also registers the ``log_file`` resolver: ``latentgraph.log``, or ``latentgraph.rank<r>.log``
    in the extra processes Lightning's DDP launches into the same run directory.
    """
    ConfigStore.instance().store(name="base_config", node=Config)
    if not OmegaConf.has_resolver("log_file"):
        OmegaConf.register_new_resolver("log_file", _log_file_name)


def _log_file_name() -> str:
    from pytorch_lightning.utilities import rank_zero_only

    rank = getattr(rank_zero_only, "rank", 0)
    return "latentgraph.log" if rank == 0 else f"latentgraph.rank{rank}.log"


def validate_config(cfg: DictConfig) -> Config:
    """Run every schema's range checks; raise naming the full key of every value that fails.

    One bad value raises :class:`ConfigValueError`; several raise :class:`InvalidConfigValues`
    (a ``ConfigValueError`` whose ``errors`` lists them all). Children are checked before their
    parent, so each error names the deepest node it belongs to. Returns the config as plain
    dataclass instances.
    """
    errors: list[ConfigValueError] = []
    _node_errors(cfg, "", errors)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidConfigValues(errors)
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def _node_errors(node: DictConfig, prefix: str, errors: list[ConfigValueError]) -> set[tuple]:
    """Append the failed checks of ``node`` and its descendants (full keys) to ``errors``; return
    their node-relative forms.

    Building a node rebuilds its children too, so a parent's own list repeats its children's
    failures under their relative keys; those are dropped, leaving the parent's own cross-field checks.
    """
    below: set[tuple] = set()
    errors.extend(_unknown_keys(node, prefix))
    for name, child in node.items_ex(resolve=False):
        if isinstance(child, DictConfig) and is_dataclass(OmegaConf.get_type(child)):
            below |= _node_errors(child, f"{prefix}{name}.", errors)
    raw: set[tuple] = set()
    for error in _collect_checks(node, quiet=bool(errors)):
        form = (error.key, repr(error.value), error.requirement)
        raw.add(form)
        if form not in below:
            errors.append(ConfigValueError(f"{prefix}{error.key}", error.value, error.requirement))
    return raw | below


def _unknown_keys(node: DictConfig, prefix: str) -> list[ConfigValueError]:
    """A key that ``node``'s schema does not have: one added with ``+`` (``+graph.alpah=0.01``)
    passes Hydra's struct check and would otherwise be dropped without a word. Named in full, with
    the nearest setting's name where one is close."""
    schema = OmegaConf.get_type(node)
    if not is_dataclass(schema):
        return []
    known = [f.name for f in fields(schema)]
    found = []
    for name, value in node.items_ex(resolve=False):
        if name not in known:
            near = get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {prefix}{near[0]}?" if near else f"; its settings are {', '.join(known)}"
            found.append(ConfigValueError(f"{prefix}{name}", value, "is not a setting" + hint))
    return found


def _collect_checks(node: DictConfig, quiet: bool = False) -> list[ConfigValueError]:
    """Build ``node``'s dataclasses with every failed check collected rather than raised.

    ``quiet``: failures were found already, so a build that cannot finish (a check tripping
    over a bad value, an interpolation only Hydra resolves) adds nothing and is not raised.
    """
    collected: list[ConfigValueError] = []
    token = _COLLECTED.set(collected)
    try:
        OmegaConf.to_object(node)
    except Exception:
        # a check after a failed one may trip over the bad value (a comparison, a division); the
        # failure already collected is the one to report. With none collected, it is a real fault.
        if not (collected or quiet):
            raise
    finally:
        _COLLECTED.reset(token)
    return collected
