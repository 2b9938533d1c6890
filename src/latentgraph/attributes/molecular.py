"""RDKit descriptors of molecules, for a whole batch (the molecule domain's attributes, docs/method.md §2b).

Each attribute is RDKit's own per-molecule function (the reference; the tests check equality on
MOSES molecules), applied once per *distinct* molecule of a batch: a perturbation's decodes
repeat a lot (an unchanged decode equals its base), so scoring each distinct SMILES once is
what makes a batch fast. A row whose string is not a molecule is NaN in every column; the
attribute set counts it as a bad record before it gets here.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING

import torch

from latentgraph.config.choices import MOLECULE_DESCRIPTOR_NAMES
from latentgraph.data.molecules import molecule, to_smiles

if TYPE_CHECKING:
    from latentgraph.attributes.sets import SequenceBatch


@cache
def _sa_scorer() -> Callable | None:
    """RDKit's contributed synthetic-accessibility scorer (Ertl and Schuffenhauer, 2009), if the
    installed wheel ships it (``rdkit/Contrib/SA_Score``); ``None`` otherwise."""
    from rdkit.Chem import RDConfig

    path = f"{RDConfig.RDContribDir}/SA_Score/sascorer.py"
    spec = importlib.util.spec_from_file_location("latentgraph_sascorer", path)
    if spec is None or spec.loader is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (FileNotFoundError, ImportError):
        return None
    return module.calculateScore


def sa_score_available() -> bool:
    return _sa_scorer() is not None


@cache
def descriptor_functions() -> dict[str, Callable]:
    """Attribute name -> RDKit's per-molecule function (``Mol -> float``)."""
    from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

    functions = {
        "logp": Crippen.MolLogP,
        "tpsa": rdMolDescriptors.CalcTPSA,
        "mol_weight": Descriptors.MolWt,
        "h_donors": Lipinski.NumHDonors,
        "h_acceptors": Lipinski.NumHAcceptors,
        "rotatable_bonds": Lipinski.NumRotatableBonds,
        "ring_count": Lipinski.RingCount,
        "fraction_csp3": Lipinski.FractionCSP3,
        "qed": QED.qed,
        "aromatic_rings": Lipinski.NumAromaticRings,
        "heavy_atoms": Lipinski.HeavyAtomCount,
    }
    scorer = _sa_scorer()
    if scorer is not None:
        functions["sa_score"] = scorer
    assert tuple(functions) == MOLECULE_DESCRIPTOR_NAMES[: len(functions)]
    return functions


def compute_molecule_descriptors(smiles: Sequence[str], names: Sequence[str]) -> torch.Tensor:
    """``float64 [n, len(names)]``: each named descriptor of each SMILES (NaN where RDKit reads none)."""
    functions = descriptor_functions()
    chosen = [functions[name] for name in names]
    values: dict[str, list[float]] = {}
    for text in dict.fromkeys(smiles):  # each distinct molecule once
        mol = molecule(text)
        values[text] = [float(f(mol)) for f in chosen] if mol is not None else [math.nan] * len(chosen)
    return torch.tensor([values[text] for text in smiles], dtype=torch.float64).reshape(len(smiles), len(chosen))


class MoleculeDescriptorBlock:
    """RDKit descriptors of a batch of molecule strings (SELFIES or SMILES); no oracles."""

    def __init__(self, names: Sequence[str] = MOLECULE_DESCRIPTOR_NAMES):
        known = tuple(descriptor_functions())
        unknown = sorted(set(names) - set(known))
        if unknown:
            extra = "" if sa_score_available() else " (sa_score needs RDKit's Contrib/SA_Score, not in this wheel)"
            raise KeyError(f"unknown molecule descriptor(s) {unknown}; known: {', '.join(known)}{extra}")
        self.names = list(names)
        self.oracle_for: dict[str, str] = {}

    def __call__(self, batch: SequenceBatch) -> torch.Tensor:
        return compute_molecule_descriptors(to_smiles(batch.sequences, batch.alphabet), self.names)
