"""Alphabets and a vectorised tokenizer.

Token ids: ``<pad>=0, <bos>=1, <eos>=2, <unk>=3``, then the alphabet's symbols as ids
``4..``. A tokenized batch is a ``LongTensor[n, max_len + 2]``: ``<bos>``, the symbols,
``<eos>``, then ``<pad>`` to the width.

An :class:`Alphabet` is a domain's vocabulary. The peptide alphabet (:data:`PEPTIDES`, the
default everywhere) has one character per symbol: the 20 canonical amino acids in alphabetical
one-letter order (``ACDEFGHIKLMNPQRSTVWY``), ids 4..23. A molecule alphabet
(:mod:`latentgraph.data.molecules`) has bracketed multi-character symbols (SELFIES ``[C]``,
``[=O]``; SMILES ``Cl``, ``[nH]``), split by a regular expression. The module-level functions
below are the peptide alphabet's, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = 0, 1, 2, 3
N_SPECIAL = len(SPECIAL_TOKENS)
VOCAB = SPECIAL_TOKENS + tuple(AMINO_ACIDS)
VOCAB_SIZE = len(VOCAB)


def _strip_upper(raw: str) -> str:
    return raw.strip().upper()


@dataclass(frozen=True, eq=False)
class Alphabet:
    """A domain's symbols, how a raw record becomes a sequence, and what a valid decode is.

    Args:
        name: ``"peptides"``, ``"selfies"`` or ``"smiles"`` (stored in checkpoints).
        symbols: the symbols after the four special tokens, in id order.
        pattern: a regular expression matching one symbol; ``None`` means one character each.
        normalise: raw record text -> the sequence the models read (raises ``ValueError`` when
            the record cannot be read, e.g. an unparseable SMILES).
        chemically_valid: strings -> ``bool`` array, for alphabets where a well-formed symbol
            string may still not be a valid object (SMILES); ``None``: every well-formed one is.
        unknown_reason: the bad-record reason for a symbol outside the alphabet.
        unknown_hint: symbol -> a hint appended to that reason's detail (what setting would keep
            the record), or ``None``.
    """

    name: str
    symbols: tuple[str, ...]
    pattern: str | None = None
    normalise: Callable[[str], str] = _strip_upper
    chemically_valid: Callable[[list[str]], np.ndarray] | None = None
    unknown_reason: str = "non_canonical"
    unknown_hint: Callable[[str], str | None] | None = None
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.symbols) + N_SPECIAL > 255:
            raise ValueError(f"alphabet {self.name!r} has {len(self.symbols)} symbols; at most 251 fit uint8 ids")
        object.__setattr__(self, "_index", {s: N_SPECIAL + i for i, s in enumerate(self.symbols)})

    @property
    def vocab(self) -> tuple[str, ...]:
        return SPECIAL_TOKENS + self.symbols

    @property
    def size(self) -> int:
        return N_SPECIAL + len(self.symbols)

    @property
    def single_character(self) -> bool:
        return self.pattern is None

    def split(self, sequence: str) -> list[str]:
        """The symbols of one sequence (text matching no symbol comes back as one unknown piece)."""
        if self.pattern is None:
            return list(sequence)
        pieces, position = [], 0
        for match in re.finditer(self.pattern, sequence):
            if match.start() > position:
                pieces.append(sequence[position : match.start()])
            pieces.append(match.group())
            position = match.end()
        if position < len(sequence):
            pieces.append(sequence[position:])
        return pieces

    def lengths(self, sequences: Sequence[str]) -> np.ndarray:
        """Each sequence's length in symbols."""
        if self.pattern is None:
            return np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        return np.fromiter((len(self.split(s)) for s in sequences), dtype=np.int64, count=len(sequences))

    def tokenize(self, sequences: Sequence[str], max_len: int) -> torch.Tensor:
        """Token rows ``LongTensor[n, max_len + 2]``; a symbol outside the alphabet becomes ``<unk>``."""
        return torch.from_numpy(self.tokenize_numpy(sequences, max_len)).long()

    def tokenize_numpy(self, sequences: Sequence[str], max_len: int) -> np.ndarray:
        """As :meth:`tokenize`, returning a compact ``uint8`` array; longer rows are cut at ``max_len``."""
        if self.pattern is None:
            return _tokenize_bytes(sequences, max_len, self._byte_table)
        out = np.zeros((len(sequences), max_len + 2), dtype=np.uint8)
        index = self._index
        for row, sequence in enumerate(sequences):
            ids = [index.get(symbol, UNK) for symbol in self.split(sequence)[:max_len]]
            out[row, 1 : len(ids) + 1] = ids
            out[row, len(ids) + 1] = EOS
        out[:, 0] = BOS
        return out

    def detokenize(self, tokens: torch.Tensor | np.ndarray) -> list[str]:
        """Token rows back into strings, up to each row's first ``<eos>``; specials are dropped.

        A leading ``<bos>`` is skipped. Use :meth:`decoded_is_valid` to tell whether a decoded
        row was well formed.
        """
        arr = tokens.detach().cpu().numpy() if isinstance(tokens, torch.Tensor) else np.asarray(tokens)
        arr = arr.astype(np.int64, copy=False)
        if arr.ndim != 2:
            raise ValueError(f"expected a 2-D token array, got shape {arr.shape}")
        if arr.shape[1] and (arr[:, 0] == BOS).all():
            arr = arr[:, 1:]
        if self.pattern is None:
            return _detokenize_bytes(arr, self._token_bytes)
        table = ("",) * N_SPECIAL + self.symbols
        out = []
        for row in arr.tolist():
            end = row.index(EOS) if EOS in row else len(row)
            out.append("".join(table[t] for t in row[:end]))
        return out

    def decoded_is_valid(self, tokens: torch.Tensor) -> torch.Tensor:
        """Whether each decoded row (without ``<bos>``) is well formed: ``BoolTensor[n]``.

        Well formed: at least one symbol, an ``<eos>`` within the row, and only the alphabet's
        symbols before it; for an alphabet with a chemistry check (SMILES), also a string that
        the check accepts.
        """
        is_eos = tokens == EOS
        has_eos = is_eos.any(dim=1)
        first_eos = torch.where(
            has_eos, is_eos.float().argmax(dim=1), torch.full_like(has_eos, tokens.shape[1], dtype=torch.long)
        )
        positions = torch.arange(tokens.shape[1], device=tokens.device)[None, :]
        before = positions < first_eos[:, None]
        symbol = tokens >= N_SPECIAL
        clean = (symbol | ~before).all(dim=1)
        valid = has_eos & clean & (first_eos > 0)
        if self.chemically_valid is not None and bool(valid.any()):
            rows = torch.nonzero(valid).flatten()
            ok = torch.from_numpy(np.asarray(self.chemically_valid(self.detokenize(tokens[rows])), dtype=bool))
            valid[rows[~ok.to(rows.device)]] = False
        return valid

    @cached_property
    def _byte_table(self) -> np.ndarray:
        table = np.full(256, UNK, dtype=np.uint8)  # every byte that is not a symbol maps to <unk>
        for i, symbol in enumerate(self.symbols):
            table[ord(symbol)] = N_SPECIAL + i
        return table

    @cached_property
    def _token_bytes(self) -> np.ndarray:
        table = np.zeros(self.size, dtype=np.uint8)  # specials map to 0 and vanish when decoded
        for i, symbol in enumerate(self.symbols):
            table[N_SPECIAL + i] = ord(symbol)
        return table


def _tokenize_bytes(sequences: Sequence[str], max_len: int, byte_to_token: np.ndarray) -> np.ndarray:
    """One pass over a joined byte buffer: the flat output index of every symbol from the lengths."""
    n = len(sequences)
    out = np.zeros((n, max_len + 2), dtype=np.uint8)
    if n == 0:
        return out
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=n)
    if lengths.max() > max_len:
        lengths = np.minimum(lengths, max_len)
        joined = "".join(s[:max_len] for s in sequences)
    else:
        joined = "".join(sequences)
    codes = byte_to_token[np.frombuffer(joined.encode("ascii", errors="replace"), dtype=np.uint8)]
    width = max_len + 2
    row_offset = np.arange(n, dtype=np.int64) * width + 1 - (np.cumsum(lengths) - lengths)
    flat = np.repeat(row_offset, lengths)
    flat += np.arange(len(codes), dtype=np.int64)
    out.reshape(-1)[flat] = codes
    out[:, 0] = BOS
    out[np.arange(n), lengths + 1] = EOS
    return out


def _detokenize_bytes(arr: np.ndarray, token_to_byte: np.ndarray) -> list[str]:
    after_eos = np.cumsum(arr == EOS, axis=1) > 0
    chars = token_to_byte[arr]
    chars[after_eos] = 0
    width = arr.shape[1]
    as_bytes = np.ascontiguousarray(chars).view(f"S{width}").ravel() if width else np.array([b""] * len(arr))
    # numpy's S dtype strips trailing NULs only; drop interior ones (specials) too.
    return [b.replace(b"\x00", b"").decode("ascii") for b in as_bytes]


PEPTIDES = Alphabet("peptides", tuple(AMINO_ACIDS))
ALPHABET_NAMES = ("peptides", "selfies", "smiles")


def reading_alphabet(name: str, stereo: str = "keep") -> Alphabet:
    """The alphabet records are read with: :func:`get_alphabet`, and under ``stereo="strip"`` (a
    molecule alphabet) one that removes each record's stereochemistry and counts how many had any
    (``alphabet.normalise.removed``)."""
    alphabet = get_alphabet(name)
    if str(stereo) == "strip":
        from latentgraph.data.molecules import without_stereo

        return without_stereo(alphabet)
    return alphabet


def get_alphabet(name: str) -> Alphabet:
    """The alphabet called ``name`` (``peptides``, ``selfies``, ``smiles``)."""
    if name == "peptides":
        return PEPTIDES
    if name in ("selfies", "smiles"):
        try:
            from latentgraph.data import molecules  # RDKit and selfies load only for molecules
        except ImportError as error:
            raise ImportError(
                f"the {name} alphabet needs the molecule extras ({error.name} is missing): "
                'pip install "latentgraph[molecules]" (scripts/setup.sh installs them)'
            ) from error

        return molecules.SELFIES if name == "selfies" else molecules.SMILES
    raise ValueError(f"unknown alphabet {name!r}; known: {', '.join(ALPHABET_NAMES)}")


def tokenize(sequences: Sequence[str], max_len: int) -> torch.Tensor:
    """Tokenize peptide sequences into ``LongTensor[n, max_len + 2]`` (:meth:`Alphabet.tokenize`).

    The sequences must already have passed :func:`latentgraph.data.records.check_sequence`
    (canonical upper-case residues, ``1 <= len <= max_len``); a residue outside the alphabet
    becomes ``<unk>`` rather than raising, so callers validate at the edge.
    """
    return PEPTIDES.tokenize(sequences, max_len)


def tokenize_numpy(sequences: Sequence[str], max_len: int) -> np.ndarray:
    """As :func:`tokenize`, returning a compact ``uint8`` array (for large corpora)."""
    return PEPTIDES.tokenize_numpy(sequences, max_len)


def detokenize(tokens: torch.Tensor | np.ndarray) -> list[str]:
    """Peptide token rows back into strings (:meth:`Alphabet.detokenize`)."""
    return PEPTIDES.detokenize(tokens)


def decoded_is_valid(tokens: torch.Tensor) -> torch.Tensor:
    """Whether each decoded peptide row (without ``<bos>``) is well formed (:meth:`Alphabet.decoded_is_valid`)."""
    return PEPTIDES.decoded_is_valid(tokens)
