"""Molecule attribute benchmark: seconds per 10,000 molecules for each RDKit descriptor, the
whole panel through the attribute set (SELFIES in, as a perturbation scores its decodes), and
the SELFIES encode and decode.

The molecules are drawn from the MOSES test set (``--n`` of them, seed 0). ``--repeat-fraction``
makes that share of the batch copies of other rows, as in a perturbation, where an unchanged
decode equals its base: the attribute set scores each distinct molecule once. The descriptor
cache is cleared before every timing.

    python scripts/bench_molecule_descriptors.py --n 10000
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from rdkit import Chem

from latentgraph.attributes.molecular import descriptor_functions
from latentgraph.attributes.sets import build_attribute_set
from latentgraph.config.choices import MOLECULE_DESCRIPTOR_NAMES
from latentgraph.data.molecules import molecule, moses_file, selfies_to_smiles, smiles_to_selfies


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat-fraction", type=float, default=0.0)
    args = parser.parse_args()
    smiles = pd.read_csv(moses_file("test"))["SMILES"].tolist()
    rng = np.random.default_rng(0)
    smiles = [smiles[i] for i in rng.permutation(len(smiles))[: args.n]]
    n_repeat = int(args.repeat_fraction * len(smiles))
    if n_repeat:
        smiles[:n_repeat] = [smiles[i] for i in rng.integers(n_repeat, len(smiles), size=n_repeat)]
    per_10k = 10_000 / len(smiles)
    print(
        f"{platform.processor() or platform.machine()}, {len(smiles)} MOSES test molecules, "
        f"{len(set(smiles))} distinct; seconds per 10,000 molecules"
    )

    encode = timed(lambda: [smiles_to_selfies(s) for s in smiles])
    sequences = [smiles_to_selfies(s) for s in smiles]
    decode = timed(lambda: selfies_to_smiles(sequences))
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    parse = timed(lambda: [Chem.MolFromSmiles(s) for s in smiles])
    print(f"  SMILES -> canonical SELFIES (RDKit parse + write, selfies encode): {encode * per_10k:7.2f}")
    print(f"  SELFIES -> SMILES (selfies decode):                              {decode * per_10k:7.2f}")
    print(f"  SMILES -> RDKit Mol (parse):                                     {parse * per_10k:7.2f}")
    for name, function in descriptor_functions().items():
        print(f"  {name:<16} {timed(lambda f=function: [f(m) for m in mols]) * per_10k:7.2f}")
    attributes = build_attribute_set(
        name="molecules", descriptors=MOLECULE_DESCRIPTOR_NAMES, max_len=200, bad_records="drop", alphabet="selfies"
    )
    molecule.cache_clear()
    whole = timed(lambda: attributes(sequences))
    print(f"  the attribute set on SELFIES (validity check, decode, parse, all 12): {whole * per_10k:7.2f}")


if __name__ == "__main__":
    main()
