import numpy as np
import pytest
import torch

from latentgraph.data.alphabet import (
    AMINO_ACIDS,
    BOS,
    EOS,
    PAD,
    UNK,
    VOCAB,
    VOCAB_SIZE,
    decoded_is_valid,
    detokenize,
    tokenize,
)


def test_vocabulary_layout():
    assert VOCAB[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert "".join(VOCAB[4:]) == AMINO_ACIDS == "ACDEFGHIKLMNPQRSTVWY"
    assert VOCAB_SIZE == 24


def test_tokenize_layout_and_roundtrip():
    sequences = ["ACD", "W", "KLAKLAKKLAKLAK"]
    tokens = tokenize(sequences, max_len=14)
    assert tokens.dtype == torch.long and tokens.shape == (3, 16)
    assert tokens[0].tolist() == [BOS, 4, 5, 6, EOS] + [PAD] * 11
    assert tokens[2, 15].item() == EOS
    assert detokenize(tokens) == sequences


def test_roundtrip_random_sequences():
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list(AMINO_ACIDS), size=rng.integers(1, 51))) for _ in range(500)]
    assert detokenize(tokenize(sequences, 50)) == sequences


def test_unknown_residue_becomes_unk_not_an_error():
    tokens = tokenize(["AXC"], 5)
    assert tokens[0, 2].item() == UNK
    assert detokenize(tokens) == ["AC"]  # specials never leak into strings


def test_detokenize_stops_at_first_eos():
    rows = torch.tensor([[4, 5, EOS, 6, 7], [4, 4, 4, 4, 4]])
    assert detokenize(rows) == ["AC", "AAAAA"]


def test_decoded_is_valid():
    rows = torch.tensor(
        [
            [4, 5, EOS, PAD],  # valid
            [EOS, PAD, PAD, PAD],  # empty
            [4, 5, 6, 7],  # no <eos>
            [4, UNK, EOS, PAD],  # special inside
        ]
    )
    assert decoded_is_valid(rows).tolist() == [True, False, False, False]


def test_detokenize_rejects_wrong_rank():
    with pytest.raises(ValueError, match="2-D"):
        detokenize(np.zeros(3, dtype=np.int64))
