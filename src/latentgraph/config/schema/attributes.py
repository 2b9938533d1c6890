"""The ``attributes`` and ``control`` groups' schemas: the oracles (descriptors, trained classifiers,
external and user models) and the planted positive control."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from latentgraph.config.choices import (
    DESCRIPTOR_NAMES,
    EXTERNAL_MODELS,
    MOLECULE_DESCRIPTOR_NAMES,
)
from latentgraph.config.validation import check, fraction, positive


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
            check(False, key, entry, "must be a mapping with _target_ (and oracle_for, labels_seen, columns, args)")
            return cls(_target_="")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(entry) - known)
        first = f"{key}.{unknown[0]}" if unknown else key
        check(not unknown, first, entry, f"unknown key(s) {unknown}; known: {sorted(known)}")
        target = str(entry.get("_target_") or "")
        check("." in target, f"{key}._target_", target or None, "must name a callable: PKG.MODULE.NAME")
        oracle_for, columns = entry.get("oracle_for") or [], entry.get("columns")
        check(isinstance(oracle_for, list), f"{key}.oracle_for", oracle_for, "must be a list of target names")
        check(columns is None or isinstance(columns, list), f"{key}.columns", columns, "must be a list of names")
        labels = str(entry.get("labels_seen", "none declared"))
        check(bool(labels.strip()), f"{key}.labels_seen", labels, "must say what labels it was trained on, or none")
        args = entry.get("args") or {}
        check(isinstance(args, dict), f"{key}.args", args, "must be a mapping of keyword arguments")
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
        positive(self, "epochs", "batch_size", "embedding_dim", "channels", "lr")
        check(self.seed is None or self.seed >= 0, "seed", self.seed, "must be null or a non-negative integer")
        fraction(self, "dropout")
        ok = all(part.strip().isdigit() and int(part) > 0 for part in self.kernel_sizes.split(","))
        check(ok, "kernel_sizes", self.kernel_sizes, "must be comma-separated positive integers, e.g. '3,5,7'")

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
        check(not unknown, "descriptors", list(self.descriptors), f"unknown {unknown}; known: {', '.join(known)}")
        check(
            len(set(self.descriptors)) == len(self.descriptors),
            "descriptors",
            list(self.descriptors),
            "lists a descriptor twice",
        )
        bad = [name for name in self.external if name not in EXTERNAL_MODELS]
        check(not bad, "external", list(self.external), f"unknown model(s) {bad}; known: {', '.join(EXTERNAL_MODELS)}")
        self.oracles = {str(name): OracleSpec.from_entry(str(name), entry) for name, entry in self.oracles.items()}
        has_any = self.descriptors or (self.use_classifiers and self.classifiers) or self.external or self.oracles
        nothing = "holds no attribute: give descriptors, classifiers, external models or oracles"
        check(bool(has_any), "set", self.set, nothing)


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
        check(bool(self.target), "target", self.target, "must name the planted label")
        check(bool(self.members), "members", list(self.members), "must name at least one descriptor")
        for key, names in (("members", list(self.members)), ("spurious", [self.spurious])):
            unknown = sorted(set(names) - set(DESCRIPTOR_NAMES))
            check(not unknown, key, names, f"must be peptide descriptors ({', '.join(DESCRIPTOR_NAMES)})")
        check(self.spurious not in self.members, "spurious", self.spurious, "must not be a planted member")
        check(len(self.weights) == len(self.members), "weights", list(self.weights), "needs one weight per member")
        check(self.noise >= 0, "noise", self.noise, "must be >= 0")
        check(0.5 < self.agreement < 1, "agreement", self.agreement, "must be in (0.5, 1)")
