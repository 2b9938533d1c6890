"""Every setting that is a choice among names: one ``Enum`` each, shared by the schema and the library.

The library accepts the plain strings too (``Threshold("fdr")``), so Python callers need not
import these. ``str()`` and f-strings give the bare value (``"fdr"``), and JSON writes it as a
string, so artifacts read the same as before the enums existed.
"""

from __future__ import annotations

from enum import Enum

AUTO = "auto"  # graph.min_effect=auto: the random-direction null instead of a floor (docs/method.md §5c)


class Choice(str, Enum):
    """A string-valued choice whose ``str()`` is its value."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def _missing_(cls, value: object) -> None:
        raise ValueError(f"{value!r} is not a valid {cls.__name__} choice; choose one of: {', '.join(cls.values())}")


class Stage(Choice):
    all = "all"  # every stage
    graph = "graph"  # rebuild the graph from an earlier run's saved effects
    consensus = "consensus"  # the consensus of finished runs' graphs (runs=[DIR,...])


class EnsembleOracles(Choice):
    """Which attribute oracles score an ensemble's members (``ensemble.oracles``, docs/method.md §5b)."""

    shared = "shared"  # the run's classifiers score every member: the autoencoders alone vary
    per_member = "per_member"  # member seed s trains its own classifiers at seed s: oracles vary too


class Domain(Choice):
    """What the sequences are (``domain=``): it picks the alphabet, sources, attributes and lengths."""

    peptides = "peptides"
    molecules = "molecules"


class AlphabetName(Choice):
    """How sequences are written (``data.alphabet``; docs/method.md §1b)."""

    peptides = "peptides"  # the 20 canonical amino acids
    selfies = "selfies"  # molecules: every symbol string decodes to a molecule
    smiles = "smiles"  # molecules: atom-level SMILES tokens; a decode may not parse


class StereoPolicy(Choice):
    """What a molecule record's stereochemistry does (``data.stereo``; docs/method.md §1b)."""

    keep = "keep"  # read as written; SELFIES has no stereo symbols, so such a record is bad (unknown_symbol)
    strip = "strip"  # the stereochemistry is removed before encoding, and the record is kept


class BadRecordPolicy(Choice):
    strict = "strict"  # stop with an error naming the file, record and character
    drop = "drop"  # skip the record, count it, write it to data/dropped.csv


class Overlap(Choice):
    """What happens to sequences in both the ID set and an OOD set."""

    drop_from_id = "drop_from_id"
    drop_from_ood = "drop_from_ood"
    drop_fit_from_ood = "drop_fit_from_ood"  # OOD keeps ID test sequences, loses ID train/val ones


class Regularizer(Choice):
    mmd_rf = "mmd_rf"  # WAE: MMD to N(0, I) with random Fourier features
    kl = "kl"  # VAE: KL to N(0, I)


class DecodeMode(Choice):
    greedy = "greedy"
    sample = "sample"


class LrSchedule(Choice):
    """The WAE's learning rate over the fit (docs/method.md §3)."""

    constant = "constant"  # ``model.lr`` throughout
    cosine = "cosine"  # ``model.lr`` decayed to 0 along a half cosine over the fit's optimizer steps


class Recurrence(Choice):
    """How the WAE's encoder and teacher-forced decoder run their GRUs in training (docs/method.md §3)."""

    auto = "auto"  # packed on CPU, nn on a GPU (where cuDNN's fused GRU is the fast one)
    nn = "nn"  # torch.nn.GRU; the decoder over padded batches
    packed = "packed"  # latentgraph.models.packed_gru: padding skipped, a hand-written backward


class Base(Choice):
    """Where the perturbation's base codes come from."""

    prior = "prior"  # N(0, I)
    posterior = "posterior"  # encoded held-out sequences


class LatentScale(Choice):
    """The step unit ``s_j`` of latent ``j``."""

    data = "data"  # the spread of latent j over encoded held-out sequences
    unit = "unit"  # 1


class Threshold(Choice):
    """The edge rule."""

    fdr = "fdr"  # q < alpha and S >= min_effect
    fixed = "fixed"  # S >= tau


class Structure(Choice):
    """How the attribute graph is built (from the footprints, or from the effects' gradients)."""

    footprint = "footprint"  # strict footprint inclusion, ties undirected
    shared_latent = "shared_latent"  # an undirected edge between attributes that share a latent
    # an undirected edge where the attributes' gradient covariance has a partial correlation (docs/method.md §5d)
    gradient_covariance = "gradient_covariance"


class Sem(Choice):
    linear = "linear"
    mlp = "mlp"


class EmptyBlanket(Choice):
    """What the predictors do when the target's blanket is empty."""

    skip = "skip"  # say so, and skip every comparison that needs a blanket (the size-free sets still run)
    all = "all"  # use every feature attribute as the blanket (its comparison with `all` is then skipped)
    fail = "fail"  # stop with an error


class PredictorModel(Choice):
    logistic = "logistic"
    mlp = "mlp"


class FeatureSet(Choice):
    markov_blanket = "markov_blanket"
    consensus_blanket = "consensus_blanket"  # the ensemble's consensus blanket (ensemble.size > 1)
    all = "all"
    lasso = "lasso"
    mutual_info = "mutual_info"
    random = "random"
    pc = "pc"
    ges = "ges"
    lingam = "lingam"


class Selection(Choice):
    """``predictor.selection``: which labelled rows the selection baselines choose their features from."""

    regime = "regime"  # the rows the regime's predictor trains on (in the limited regime: its n labels)
    full_train = "full_train"  # always the whole ID training split (a second, named protocol)


class Regime(Choice):
    supervised = "supervised"
    unsupervised = "unsupervised"
    fewshot = "fewshot"
    limited = "limited"


class RegimeChoice(Choice):
    """``predictor.regime``: one regime, or all of them."""

    all = "all"
    supervised = "supervised"
    unsupervised = "unsupervised"
    fewshot = "fewshot"
    limited = "limited"


class Mode(Choice):
    """Whether larger or smaller is better for a monitored metric."""

    min = "min"
    max = "max"


def with_plain_strings(value: object) -> object:
    """``value`` with every choice (any ``str`` subclass) as a plain ``str``, through dicts and lists:
    for checkpoint hyperparameters (loadable with ``weights_only``) and logged configs."""
    if isinstance(value, dict):
        return {key: with_plain_strings(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [with_plain_strings(item) for item in value]
    return str(value) if isinstance(value, str) else value


# the peptide descriptors (latentgraph.attributes.descriptors implements exactly these; a test checks)
DESCRIPTOR_NAMES = (
    "length",
    "molecular_weight",
    "net_charge",
    "charge_density",
    "isoelectric_point",
    "eisenberg_hydrophobicity",
    "hydrophobic_moment",
    "aliphatic_index",
    "instability_index",
    "boman_index",
    "aromaticity",
    "hydrophobic_ratio",
)
# the molecule domain's RDKit descriptors (latentgraph.attributes.molecular); sa_score only where
# the installed RDKit wheel ships its Contrib/SA_Score scorer
MOLECULE_DESCRIPTOR_NAMES = (
    "logp",
    "tpsa",
    "mol_weight",
    "h_donors",
    "h_acceptors",
    "rotatable_bonds",
    "ring_count",
    "fraction_csp3",
    "qed",
    "aromatic_rings",
    "heavy_atoms",
    "sa_score",
)
EXTERNAL_MODELS = ("macrel",)
