"""Peptide descriptors computed on padded token tensors, for a whole batch at once.

Every function takes ``tokens`` as produced by :func:`latentgraph.data.alphabet.tokenize`
(``[n, L]`` with ``<bos>``, residues, ``<eos>``, ``<pad>``; any device) and returns a
``float64`` tensor ``[n]``. There is no per-sequence Python loop: composition descriptors are
matrix products of residue counts, the instability index gathers dipeptide values, the
hydrophobic moment sums phase vectors, and the isoelectric point is a bisection run on all rows
at once.

Conventions follow modlamp's ``GlobalDescriptor`` / ``PeptideDescriptor`` (the reference in the
tests), and the residue scales are read from modlamp's published tables at import:

* masses: average residue masses of the free amino acids, one water (18.015 Da) lost per
  peptide bond; free C-terminal acid unless ``amide=True`` (−0.98 Da);
* charge: Henderson–Hasselbalch with pKa N-term 9.38, K 10.67, R 12.10, H 6.04 and C-term
  2.15, D 3.71, E 4.15, C 8.14, Y 10.10 (an amidated C-terminus gets pKa 15.0);
* hydrophobicity: the Eisenberg consensus scale (Eisenberg et al., 1984).

modlamp rounds molecular weight to 0.01 Da and charge to 0.001; these functions do not round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from latentgraph.config.choices import DESCRIPTOR_NAMES
from latentgraph.data.alphabet import AMINO_ACIDS, EOS, N_SPECIAL, VOCAB_SIZE

WATER_MASS = 18.015  # Da, lost per peptide bond
AMIDE_MASS_SHIFT = -0.98  # Da, C-terminal OH -> NH2
POSITIVE_PKA = {"Nterm": 9.38, "K": 10.67, "R": 12.10, "H": 6.04}
NEGATIVE_PKA = {"Cterm": 2.15, "D": 3.71, "E": 4.15, "C": 8.14, "Y": 10.10}
AMIDATED_CTERM_PKA = 15.0
MOMENT_ANGLE_DEG = 100.0  # alpha helix


def _residue_table(values: dict[str, float]) -> torch.Tensor:
    """A ``[20]`` float64 tensor in alphabet order from a residue -> value mapping."""
    return torch.tensor([float(values[aa]) for aa in AMINO_ACIDS], dtype=torch.float64)


def _load_tables() -> dict[str, torch.Tensor]:
    from modlamp.core import aa_energies, aa_weights, load_scale

    eisenberg = {aa: v[0] for aa, v in load_scale("eisenberg")[1].items()}
    diwv = load_scale("instability")[1]
    # dipeptide instability weights on token ids (specials -> 0)
    pair = torch.zeros(VOCAB_SIZE, VOCAB_SIZE, dtype=torch.float64)
    for i, a in enumerate(AMINO_ACIDS):
        for j, b in enumerate(AMINO_ACIDS):
            pair[N_SPECIAL + i, N_SPECIAL + j] = float(diwv[a][b])
    eisenberg_by_token = torch.zeros(VOCAB_SIZE, dtype=torch.float64)  # specials -> 0
    eisenberg_by_token[N_SPECIAL:] = _residue_table(eisenberg)
    return {
        "mass": _residue_table(aa_weights()),
        "eisenberg": eisenberg_by_token[N_SPECIAL:],
        "eisenberg_by_token": eisenberg_by_token,
        "boman": _residue_table(aa_energies()),
        "instability_pairs": pair,
    }


TABLES = _load_tables()
_INDEX = {aa: i for i, aa in enumerate(AMINO_ACIDS)}


def residue_counts(tokens: torch.Tensor) -> torch.Tensor:
    """``[n, 20]`` float64 counts of each canonical residue (alphabet order)."""
    n, vocab = tokens.shape[0], VOCAB_SIZE
    flat = (torch.arange(n, device=tokens.device)[:, None] * vocab + tokens.long()).reshape(-1)
    counts = torch.bincount(flat, minlength=n * vocab).reshape(n, vocab)
    return counts[:, N_SPECIAL:].to(torch.float64)


# Each descriptor is computed from (tokens, counts) so that a panel shares one count pass; the
# public one-argument functions below wrap them for single use.


def _length(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    return counts.sum(dim=1)


def _per_residue(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``values / length``; an empty row divides by 1, so it yields 0, never NaN."""
    return values / counts.sum(dim=1).clamp(min=1)


def _fraction(counts: torch.Tensor, residues: str) -> torch.Tensor:
    columns = [_INDEX[aa] for aa in residues]
    return _per_residue(counts[:, columns].sum(dim=1), counts)


def _molecular_weight(tokens: torch.Tensor, counts: torch.Tensor, *, amide: bool = False) -> torch.Tensor:
    mw = counts @ TABLES["mass"].to(counts.device) - WATER_MASS * (counts.sum(dim=1) - 1)
    return mw + AMIDE_MASS_SHIFT if amide else mw


# ionisable groups: (residue or terminus, pKa, +1 for bases / -1 for acids)
def _ionisable(counts: torch.Tensor, amide: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group counts ``[n, 9]``, pKa ``[9]`` and sign ``[9]`` (termini count once per chain)."""
    ones = torch.ones(counts.shape[0], 1, dtype=torch.float64, device=counts.device)
    columns = [ones] + [counts[:, [_INDEX[aa]]] for aa in "KRH"] + [ones] + [counts[:, [_INDEX[aa]]] for aa in "DECY"]
    c_term = AMIDATED_CTERM_PKA if amide else NEGATIVE_PKA["Cterm"]
    pka = [POSITIVE_PKA["Nterm"], *(POSITIVE_PKA[aa] for aa in "KRH"), c_term, *(NEGATIVE_PKA[aa] for aa in "DECY")]
    sign = [1.0] * 4 + [-1.0] * 5
    as_tensor = lambda v: torch.tensor(v, dtype=torch.float64, device=counts.device)  # noqa: E731
    return torch.cat(columns, dim=1), as_tensor(pka), as_tensor(sign)


def _charge_at(groups: torch.Tensor, pka: torch.Tensor, sign: torch.Tensor, ph: torch.Tensor) -> torch.Tensor:
    """Henderson–Hasselbalch: bases carry ``1/(1+10^(pH-pKa))``, acids ``-1/(1+10^(pKa-pH))``.

    Written with one ``10^pH`` per row (``10^(±(pH-pKa)) = 10^(±pH)·10^(∓pKa)``), since the
    bisection evaluates it many times.
    """
    ph = ph.reshape(-1, 1) if ph.dim() else ph
    x = 10.0**ph
    ratio = torch.where(sign > 0, x * 10.0 ** (-pka), 10.0**pka / x)
    return (groups * sign / (1.0 + ratio)).sum(dim=1)


def _net_charge(
    tokens: torch.Tensor, counts: torch.Tensor, *, ph: float | torch.Tensor = 7.0, amide: bool = False
) -> torch.Tensor:
    ph = torch.as_tensor(ph, dtype=torch.float64, device=counts.device)
    return _charge_at(*_ionisable(counts, amide), ph)


def _charge_density(
    tokens: torch.Tensor, counts: torch.Tensor, *, ph: float = 7.0, amide: bool = False
) -> torch.Tensor:
    return _net_charge(tokens, counts, ph=ph, amide=amide) / _molecular_weight(tokens, counts, amide=amide)


def _isoelectric_point(
    tokens: torch.Tensor, counts: torch.Tensor, *, amide: bool = False, iterations: int = 40
) -> torch.Tensor:
    # the pI depends on the ionisable-group counts alone: bisect once per distinct composition
    groups, inverse = _distinct_rows(_ionisable(counts, amide)[0])
    _, pka, sign = _ionisable(counts[:1], amide)
    low = torch.zeros(groups.shape[0], dtype=torch.float64, device=counts.device)
    high = torch.full_like(low, 20.0)
    for _ in range(iterations):
        mid = (low + high) / 2
        positive = _charge_at(groups, pka, sign, mid) > 0
        low = torch.where(positive, mid, low)
        high = torch.where(positive, high, mid)
    return ((low + high) / 2)[inverse]


def _distinct_rows(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct rows of a non-negative integer-valued matrix and each row's index among them.

    Rows are packed into one int64 key when that cannot overflow (a 1-D unique is ~50× faster
    than ``torch.unique(dim=0)``), else ``torch.unique(dim=0)`` is used.
    """
    as_int = values.long()
    base = int(as_int.max()) + 1 if len(as_int) else 1
    if base ** values.shape[1] >= 2**62:
        return torch.unique(values, dim=0, return_inverse=True)
    weights = base ** torch.arange(values.shape[1], device=values.device, dtype=torch.long)
    _, first, inverse = _unique_with_first((as_int * weights).sum(dim=1))
    return values[first], inverse


def _unique_with_first(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.unique`` of a 1-D tensor plus the index of one occurrence of each distinct key."""
    unique, inverse = torch.unique(keys, return_inverse=True)
    first = torch.empty(len(unique), dtype=torch.long, device=keys.device)
    first[inverse] = torch.arange(len(keys), device=keys.device)
    return unique, first, inverse


def _eisenberg_hydrophobicity(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    return _per_residue(counts @ TABLES["eisenberg"].to(counts.device), counts)


def _hydrophobic_moment(
    tokens: torch.Tensor, counts: torch.Tensor, *, angle_deg: float = MOMENT_ANGLE_DEG
) -> torch.Tensor:
    # residues sit in columns 1..n after <bos>, so residue index k = column - 1 for every row
    h = TABLES["eisenberg_by_token"].to(tokens.device)[tokens.long()]  # specials -> 0
    k = torch.arange(tokens.shape[1], dtype=torch.float64, device=tokens.device) - 1
    radians = k * math.radians(angle_deg)
    cos_sum, sin_sum = h @ torch.cos(radians), h @ torch.sin(radians)
    return _per_residue(torch.sqrt(cos_sum**2 + sin_sum**2), counts)


def _aliphatic_index(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    x = lambda aa: counts[:, _INDEX[aa]]  # noqa: E731
    return 100 * _per_residue(x("A") + 2.9 * x("V") + 3.9 * (x("I") + x("L")), counts)


def _instability_index(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    pairs = TABLES["instability_pairs"].to(tokens.device).reshape(-1)
    tokens = tokens.long()
    # specials map to 0 in the table, so <bos>/<eos>/<pad> pairs add nothing
    total = pairs[tokens[:, :-1] * VOCAB_SIZE + tokens[:, 1:]].sum(dim=1)
    return 10.0 * _per_residue(total, counts)


def _boman_index(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    return _per_residue(counts @ TABLES["boman"].to(counts.device), counts)


def _aromaticity(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    return _fraction(counts, "FWY")


def _hydrophobic_ratio(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    return _fraction(counts, "ACFILMV")


def length(tokens: torch.Tensor) -> torch.Tensor:
    """Number of residues."""
    return _length(tokens, residue_counts(tokens))


def molecular_weight(tokens: torch.Tensor, *, amide: bool = False) -> torch.Tensor:
    """Average molecular weight in Da (free acid; ``amide=True``: C-terminal amide)."""
    return _molecular_weight(tokens, residue_counts(tokens), amide=amide)


def net_charge(tokens: torch.Tensor, *, ph: float | torch.Tensor = 7.0, amide: bool = False) -> torch.Tensor:
    """Net charge at ``ph`` (default 7.0; a ``[n]`` tensor gives one pH per row), Henderson–Hasselbalch."""
    return _net_charge(tokens, residue_counts(tokens), ph=ph, amide=amide)


def charge_density(tokens: torch.Tensor, *, ph: float = 7.0, amide: bool = False) -> torch.Tensor:
    """Net charge at ``ph`` divided by molecular weight (charges per Da)."""
    return _charge_density(tokens, residue_counts(tokens), ph=ph, amide=amide)


def isoelectric_point(tokens: torch.Tensor, *, amide: bool = False, iterations: int = 40) -> torch.Tensor:
    """pH where the net charge is zero, by bisection on every row at once.

    Charge falls monotonically with pH, so 40 halvings of the bracket [0, 20] pin the root to
    ~2e-11. The bracket reaches past 14 because with an amidated C-terminus (pKa 15) a very
    basic peptide has no root below 14 under this pKa set.
    """
    return _isoelectric_point(tokens, residue_counts(tokens), amide=amide, iterations=iterations)


def eisenberg_hydrophobicity(tokens: torch.Tensor) -> torch.Tensor:
    """Mean Eisenberg consensus hydrophobicity over the residues."""
    return _eisenberg_hydrophobicity(tokens, residue_counts(tokens))


def hydrophobic_moment(tokens: torch.Tensor, *, angle_deg: float = MOMENT_ANGLE_DEG) -> torch.Tensor:
    """Eisenberg hydrophobic moment at ``angle_deg`` (100°, α-helix) over the whole sequence.

    ``|Σ_k h_k exp(i·k·angle)| / n`` with ``k`` the 0-based residue position and ``h`` the
    Eisenberg scale (modlamp's ``calculate_moment`` with a window longer than the peptide).
    Expects the tokenizer's layout: ``<bos>`` in column 0, residues from column 1.
    """
    return _hydrophobic_moment(tokens, residue_counts(tokens), angle_deg=angle_deg)


def aliphatic_index(tokens: torch.Tensor) -> torch.Tensor:
    """Ikai (1980): ``100·(x_A + 2.9·x_V + 3.9·(x_I + x_L))`` with mole fractions ``x``."""
    return _aliphatic_index(tokens, residue_counts(tokens))


def instability_index(tokens: torch.Tensor) -> torch.Tensor:
    """Guruprasad et al. (1990): ``(10 / n) · Σ DIWV(x_k, x_k+1)`` over consecutive residues."""
    return _instability_index(tokens, residue_counts(tokens))


def boman_index(tokens: torch.Tensor) -> torch.Tensor:
    """Boman (2003) index: mean of the residues' solubility energies (modlamp's sign convention)."""
    return _boman_index(tokens, residue_counts(tokens))


def aromaticity(tokens: torch.Tensor) -> torch.Tensor:
    """Fraction of F, W and Y residues."""
    return _aromaticity(tokens, residue_counts(tokens))


def hydrophobic_ratio(tokens: torch.Tensor) -> torch.Tensor:
    """Fraction of A, C, F, I, L, M and V residues."""
    return _hydrophobic_ratio(tokens, residue_counts(tokens))


DESCRIPTORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "length": _length,
    "molecular_weight": _molecular_weight,
    "net_charge": _net_charge,
    "charge_density": _charge_density,
    "isoelectric_point": _isoelectric_point,
    "eisenberg_hydrophobicity": _eisenberg_hydrophobicity,
    "hydrophobic_moment": _hydrophobic_moment,
    "aliphatic_index": _aliphatic_index,
    "instability_index": _instability_index,
    "boman_index": _boman_index,
    "aromaticity": _aromaticity,
    "hydrophobic_ratio": _hydrophobic_ratio,
}
assert tuple(DESCRIPTORS) == DESCRIPTOR_NAMES, "config.choices.DESCRIPTOR_NAMES must list exactly DESCRIPTORS"
ORDER_DEPENDENT = frozenset({"hydrophobic_moment", "instability_index"})  # the rest need residue counts only


def compute_descriptors(
    tokens: torch.Tensor, names: Sequence[str] | None = None, *, chunk_rows: int = 8192
) -> torch.Tensor:
    """``[n, m]`` float64 matrix of the named descriptors (all twelve by default), columns in order.

    Residue counts and the two order-dependent descriptors (hydrophobic moment, instability index)
    are computed over chunks of rows of similar length, each cut to its own longest row: a batch's
    width is set by its longest sequence, and most rows would otherwise be padding. Every other
    descriptor is a function of the counts and runs once on the whole batch. The values do not
    depend on the chunking (tested).

    Args:
        tokens: ``[n, L]`` as from :func:`latentgraph.data.alphabet.tokenize` (residues from
            column 1, after ``<bos>``).
        names: descriptor names (see :data:`DESCRIPTOR_NAMES`).
        chunk_rows: rows per chunk; bounds the temporary memory to about ``chunk_rows·L·8`` bytes.
    """
    names = list(DESCRIPTOR_NAMES if names is None else names)
    unknown = [name for name in names if name not in DESCRIPTORS]
    if unknown:
        raise KeyError(f"unknown descriptor(s) {unknown}; known: {', '.join(DESCRIPTOR_NAMES)}")
    n = tokens.shape[0]
    order_based = [name for name in names if name in ORDER_DEPENDENT]
    counts = torch.zeros(n, len(AMINO_ACIDS), dtype=torch.float64, device=tokens.device)
    by_order = torch.zeros(n, len(order_based), dtype=torch.float64, device=tokens.device)
    # rows sorted by their <eos> column; this only groups rows, each chunk's width is measured
    order = torch.argsort((tokens == EOS).to(torch.uint8).argmax(dim=1)) if n else torch.zeros(0, dtype=torch.long)
    for rows in order.split(chunk_rows):
        chunk = tokens.index_select(0, rows)
        used_columns = torch.nonzero(chunk.any(dim=0)).flatten()
        width = int(used_columns[-1]) + 1 if len(used_columns) else 1
        chunk = chunk[:, :width].long()  # one conversion, shared by every descriptor
        counts[rows] = chunk_counts = residue_counts(chunk)
        if order_based:
            by_order[rows] = torch.stack([DESCRIPTORS[name](chunk, chunk_counts) for name in order_based], dim=1)
    # the rest depend on residue counts alone: one pass over the whole batch
    columns = [
        by_order[:, order_based.index(name)] if name in ORDER_DEPENDENT else DESCRIPTORS[name](None, counts)
        for name in names
    ]
    return torch.stack(columns, dim=1) if columns else torch.zeros(n, 0, dtype=torch.float64, device=tokens.device)
