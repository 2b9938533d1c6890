"""Vectorised descriptors against modlamp, the reference, on every sequence of the four modlamp sets.

Bounds: a maximum relative difference of 1e-4, except where modlamp rounds its output. There
the bound is the rounding, pinned here: molecular weight is rounded to 0.01 Da and charge to
0.001, so charge is compared with an absolute bound of 5e-4 and charge density (rounded charge
over rounded mass) with 1e-6 per Da. modlamp's isoelectric point stops bisecting once its
rounded charge is 0, which leaves it up to 0.3 pH units from the root on flat titration
curves; our pI is checked to be a root of modlamp's own charge function instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from modlamp.datasets import load_ACPvsRandom, load_ACPvsTM, load_AMPvsTM, load_AMPvsUniProt
from modlamp.descriptors import GlobalDescriptor, PeptideDescriptor, _charge

from latentgraph.attributes.descriptors import DESCRIPTOR_NAMES, compute_descriptors, isoelectric_point, net_charge
from latentgraph.data.alphabet import tokenize


@pytest.fixture(scope="module")
def sequences() -> list[str]:
    loaders = (load_AMPvsUniProt, load_AMPvsTM, load_ACPvsTM, load_ACPvsRandom)
    return sorted({s for load in loaders for s in load().sequences})


@pytest.fixture(scope="module")
def ours(sequences) -> dict[str, np.ndarray]:
    values = compute_descriptors(tokenize(sequences, max(map(len, sequences)))).numpy()
    return {name: values[:, j] for j, name in enumerate(DESCRIPTOR_NAMES)}


def modlamp_global(sequences, method: str, **kwargs) -> np.ndarray:
    descriptor = GlobalDescriptor(sequences)
    getattr(descriptor, method)(**kwargs)
    return descriptor.descriptor[:, 0].astype(float)


def modlamp_eisenberg(sequences, method: str) -> np.ndarray:
    descriptor = PeptideDescriptor(sequences, "eisenberg")
    getattr(descriptor, method)()  # default window 1000: the whole peptide
    return descriptor.descriptor[:, 0].astype(float)


def max_relative(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a - b) / np.maximum(np.abs(b), 1e-12)).max())


# descriptor -> (reference call, modlamp method); free C-terminal acid and pH 7 passed explicitly,
# because modlamp 4.3's own defaults are amidated peptides at pH 7.4
RELATIVE_1E4 = {
    "length": ("global", "length", {}),
    "molecular_weight": ("global", "calculate_MW", {"amide": False}),
    "aliphatic_index": ("global", "aliphatic_index", {}),
    "instability_index": ("global", "instability_index", {}),
    "boman_index": ("global", "boman_index", {}),
    "aromaticity": ("global", "aromaticity", {}),
    "hydrophobic_ratio": ("global", "hydrophobic_ratio", {}),
    "eisenberg_hydrophobicity": ("eisenberg", "calculate_global", {}),
    "hydrophobic_moment": ("eisenberg", "calculate_moment", {}),
}


def test_sets_cover_every_length(sequences):
    assert len(sequences) == 6018 and max(map(len, sequences)) == 174


@pytest.mark.parametrize("name", sorted(RELATIVE_1E4))
def test_descriptor_matches_modlamp_to_1e_4(name, sequences, ours):
    kind, method, kwargs = RELATIVE_1E4[name]
    reference = (
        modlamp_global(sequences, method, **kwargs) if kind == "global" else modlamp_eisenberg(sequences, method)
    )
    assert max_relative(ours[name], reference) < 1e-4


@pytest.mark.parametrize("amide", [False, True])
def test_charge_and_density_match_modlamp_to_its_rounding(sequences, amide):
    tokens = tokenize(sequences, 174)
    charge = net_charge(tokens, amide=amide).numpy()
    assert np.abs(charge - modlamp_global(sequences, "calculate_charge", ph=7.0, amide=amide)).max() <= 5.0001e-4


def test_charge_density_column(sequences, ours):
    reference = modlamp_global(sequences, "charge_density", ph=7.0, amide=False)
    assert np.abs(ours["charge_density"] - reference).max() < 1e-6


@pytest.mark.parametrize("amide", [False, True])
def test_isoelectric_point_is_a_root_of_modlamps_charge(sequences, amide):
    pi = isoelectric_point(tokenize(sequences, 174), amide=amide).numpy()
    assert max(abs(_charge(s, p, amide)) for s, p in zip(sequences, pi)) == 0.0
    # and, unrounded, the charge changes sign across it
    tokens = tokenize(sequences, 174)
    below = net_charge(tokens, ph=torch.from_numpy(pi - 1e-6), amide=amide)
    above = net_charge(tokens, ph=torch.from_numpy(pi + 1e-6), amide=amide)
    assert (below > 0).all() and (above < 0).all()
    modlamp_pi = modlamp_global(sequences, "isoelectric_point", amide=amide)
    assert np.abs(pi - modlamp_pi).max() < 0.35  # modlamp's early stop, see the module docstring


def test_batched_equals_one_at_a_time_and_ignores_padding():
    sequences = ["GLFDIVKKVVGALGSL", "KWKLFKKIGAVLKVL", "C", "DEDEDEHHHH"]
    batch = compute_descriptors(tokenize(sequences, 50))
    for i, s in enumerate(sequences):
        alone = compute_descriptors(tokenize([s], len(s)))
        assert torch.allclose(batch[i], alone[0], rtol=1e-12, atol=1e-12)
    assert torch.isfinite(batch).all()


def test_unknown_descriptor_name():
    with pytest.raises(KeyError, match="unknown descriptor"):
        compute_descriptors(tokenize(["KLA"], 5), ["length", "charm"])


def test_values_do_not_depend_on_chunking_or_column_selection(sequences, ours):
    tokens = tokenize(sequences[:500], 200)  # wider than any row: the padding is cut per chunk
    reference = np.stack([ours[name][:500] for name in DESCRIPTOR_NAMES], axis=1)
    for chunk_rows in (1, 7, 64, 10_000):
        values = compute_descriptors(tokens, chunk_rows=chunk_rows).numpy()
        np.testing.assert_allclose(values, reference, rtol=1e-12, atol=1e-12)
    picked = compute_descriptors(tokens, ["instability_index", "length", "isoelectric_point"]).numpy()
    columns = [DESCRIPTOR_NAMES.index(n) for n in ("instability_index", "length", "isoelectric_point")]
    np.testing.assert_allclose(picked, reference[:, columns], rtol=1e-12, atol=1e-12)


def test_empty_batch_and_empty_selection():
    assert compute_descriptors(tokenize([], 10)).shape == (0, len(DESCRIPTOR_NAMES))
    assert compute_descriptors(tokenize(["KLA"], 10), []).shape == (1, 0)
