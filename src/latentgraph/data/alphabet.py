"""The peptide alphabet and a vectorised tokenizer.

Token ids: ``<pad>=0, <bos>=1, <eos>=2, <unk>=3``, then the 20 canonical amino acids in
alphabetical one-letter order (``ACDEFGHIKLMNPQRSTVWY``) as ids 4..23. A tokenized batch is a
``LongTensor[n, max_len + 2]``: ``<bos>``, the residues, ``<eos>``, then ``<pad>`` to the width.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = 0, 1, 2, 3
N_SPECIAL = len(SPECIAL_TOKENS)
VOCAB = SPECIAL_TOKENS + tuple(AMINO_ACIDS)
VOCAB_SIZE = len(VOCAB)

# byte -> token id; every byte that is not a canonical residue maps to <unk>.
_BYTE_TO_TOKEN = np.full(256, UNK, dtype=np.uint8)
for _i, _aa in enumerate(AMINO_ACIDS):
    _BYTE_TO_TOKEN[ord(_aa)] = N_SPECIAL + _i
# token id -> byte; specials map to 0 so they vanish when the bytes are decoded.
_TOKEN_TO_BYTE = np.zeros(VOCAB_SIZE, dtype=np.uint8)
for _i, _aa in enumerate(AMINO_ACIDS):
    _TOKEN_TO_BYTE[N_SPECIAL + _i] = ord(_aa)


def tokenize(sequences: Sequence[str], max_len: int) -> torch.Tensor:
    """Tokenize validated sequences into ``LongTensor[n, max_len + 2]``.

    The sequences must already have passed :func:`latentgraph.data.records.check_sequence`
    (canonical upper-case residues, ``1 <= len <= max_len``); a residue outside the alphabet
    becomes ``<unk>`` rather than raising, so callers validate at the edge.

    Args:
        sequences: peptide strings.
        max_len: the longest sequence the model handles.
    """
    return torch.from_numpy(tokenize_numpy(sequences, max_len)).long()


def tokenize_numpy(sequences: Sequence[str], max_len: int) -> np.ndarray:
    """As :func:`tokenize`, returning a compact ``uint8`` array (for large corpora)."""
    n = len(sequences)
    out = np.zeros((n, max_len + 2), dtype=np.uint8)
    if n == 0:
        return out
    # one pass over a joined byte buffer: the flat output index of every residue from the lengths
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=n)
    if lengths.max() > max_len:
        lengths = np.minimum(lengths, max_len)
        joined = "".join(s[:max_len] for s in sequences)
    else:
        joined = "".join(sequences)
    codes = _BYTE_TO_TOKEN[np.frombuffer(joined.encode("ascii", errors="replace"), dtype=np.uint8)]
    width = max_len + 2
    row_offset = np.arange(n, dtype=np.int64) * width + 1 - (np.cumsum(lengths) - lengths)
    flat = np.repeat(row_offset, lengths)
    flat += np.arange(len(codes), dtype=np.int64)
    out.reshape(-1)[flat] = codes
    out[:, 0] = BOS
    out[np.arange(n), lengths + 1] = EOS
    return out


def detokenize(tokens: torch.Tensor | np.ndarray) -> list[str]:
    """Turn token rows back into strings.

    A row is read from the first residue position up to its first ``<eos>`` (or its end); a
    leading ``<bos>`` is skipped and any other special token inside the span is dropped, so the
    output only ever holds canonical residues. Use :func:`decoded_is_valid` to tell whether a
    decoded row was a well-formed sequence.
    """
    arr = tokens.detach().cpu().numpy() if isinstance(tokens, torch.Tensor) else np.asarray(tokens)
    arr = arr.astype(np.int64, copy=False)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D token array, got shape {arr.shape}")
    if arr.shape[1] and (arr[:, 0] == BOS).all():
        arr = arr[:, 1:]
    after_eos = np.cumsum(arr == EOS, axis=1) > 0
    chars = _TOKEN_TO_BYTE[arr]
    chars[after_eos] = 0
    width = arr.shape[1]
    as_bytes = np.ascontiguousarray(chars).view(f"S{width}").ravel() if width else np.array([b""] * len(arr))
    # numpy's S dtype strips trailing NULs only; drop interior ones (specials) too.
    return [b.replace(b"\x00", b"").decode("ascii") for b in as_bytes]


def decoded_is_valid(tokens: torch.Tensor) -> torch.Tensor:
    """Whether each decoded row (without ``<bos>``) is a well-formed peptide.

    Valid means: at least one residue, an ``<eos>`` within the row, and only canonical residues
    before it. Returns ``BoolTensor[n]``.
    """
    is_eos = tokens == EOS
    has_eos = is_eos.any(dim=1)
    first_eos = torch.where(
        has_eos, is_eos.float().argmax(dim=1), torch.full_like(has_eos, tokens.shape[1], dtype=torch.long)
    )
    positions = torch.arange(tokens.shape[1], device=tokens.device)[None, :]
    before = positions < first_eos[:, None]
    residue = tokens >= N_SPECIAL
    clean = (residue | ~before).all(dim=1)
    return has_eos & clean & (first_eos > 0)
