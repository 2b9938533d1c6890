"""Training-time augmentation: point substitutions and crops keep rows well formed."""

import torch

from latentgraph.data.alphabet import decoded_is_valid, detokenize, tokenize
from latentgraph.data.augment import crop_residues, substitute_residues

SEQUENCES = ["KLAKLAKKLAKLAK" * 3, "GIG", "W", "ACDEFGHIKLMNPQRSTVWY"]


def test_substitution_keeps_specials_and_lengths():
    tokens = tokenize(SEQUENCES, 50)
    assert substitute_residues(tokens, 0.0) is tokens
    mutated = substitute_residues(tokens, 0.5, generator=torch.Generator().manual_seed(0))
    specials = tokens < 4
    assert torch.equal(mutated[specials], tokens[specials])
    assert (mutated[~specials] >= 4).all()
    changed = (mutated != tokens)[~specials].float().mean()
    assert 0.35 < float(changed) < 0.6  # rate 0.5, minus draws of the same residue (1/20)


def test_crop_keeps_a_contiguous_window_of_at_least_half():
    tokens = tokenize(SEQUENCES, 50)
    assert crop_residues(tokens, 0.0) is tokens
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        cropped = crop_residues(tokens, 1.0, generator=generator)
        assert cropped.shape == tokens.shape
        assert decoded_is_valid(cropped[:, 1:]).all() and (cropped[:, 0] == 1).all()
        for original, window in zip(SEQUENCES, detokenize(cropped)):
            assert window in original
            assert (len(original) + 1) // 2 <= len(window) <= len(original)


def test_crop_rate_is_per_row():
    tokens = tokenize(["ACDEFGHIKLMNPQRSTVWY"] * 2000, 20)
    cropped = crop_residues(tokens, 0.3, generator=torch.Generator().manual_seed(0))
    changed = (cropped != tokens).any(dim=1).float().mean()
    # a cropped row keeps its whole length with probability 1/11, so about 0.3 * 10/11 change
    assert 0.23 < float(changed) < 0.32
