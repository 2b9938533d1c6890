"""Record validation and the bad-record policy (docs/method.md §1).

A record is bad when it is empty, longer than ``max_len`` symbols, or holds a symbol outside the
domain's alphabet (for peptides: a character that is not one of the 20 canonical amino acids).
Before the check a record is normalised by its alphabet: a peptide is stripped of surrounding
whitespace and upper-cased (``"acd "`` is read as ``"ACD"``); a molecule's SMILES is parsed by
RDKit and rewritten in the alphabet's form (unreadable: reason ``unreadable``). Nothing else is
repaired.

Policies:
    ``strict``: the first bad record raises :class:`BadRecordError` naming the file, the record
        number (1-based, in file order) and the offending character.
    ``drop``: bad records are skipped, counted per source and reason, and kept in a
        :class:`DropLog` that the run writes to ``data/dropped.csv``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from latentgraph.config.choices import BadRecordPolicy
from latentgraph.data.alphabet import PEPTIDES, UNK, Alphabet
from latentgraph.errors import BadRecordError, DataError


@dataclass(frozen=True)
class RecordProblem:
    reason: str  # "empty" | "non_canonical" | "unknown_symbol" | "too_long" | "invalid_molecule" | "unreadable"
    detail: str


def check_sequence(sequence: str, max_len: int, alphabet: Alphabet = PEPTIDES) -> RecordProblem | None:
    """Return what is wrong with an already normalised sequence, or ``None`` if it is good."""
    if not sequence:
        return RecordProblem("empty", "empty sequence")
    symbols = alphabet.split(sequence)
    known = set(alphabet.symbols)
    for position, symbol in enumerate(symbols, start=1):
        if symbol not in known:
            what = (
                "non-canonical character"
                if alphabet.single_character
                else f"symbol outside the {alphabet.name} alphabet"
            )
            hint = alphabet.unknown_hint(symbol) if alphabet.unknown_hint is not None else None
            detail = f"{what} {symbol!r} at position {position}" + (f" ({hint})" if hint else "")
            return RecordProblem(alphabet.unknown_reason, detail)
    if len(symbols) > max_len:
        return RecordProblem("too_long", f"length {len(symbols)} exceeds data.max_len={max_len}")
    if alphabet.chemically_valid is not None and not bool(alphabet.chemically_valid([sequence])[0]):
        return RecordProblem("invalid_molecule", "RDKit cannot read it as a molecule")
    return None


def screen_sequences(
    sequences: list[str],
    max_len: int,
    width: int | None = None,
    alphabet: Alphabet = PEPTIDES,
    *,
    check_chemistry: bool = True,
) -> tuple[np.ndarray, dict[int, RecordProblem]]:
    """Tokenize normalised sequences and find the bad ones without a per-character Python loop.

    A symbol outside the alphabet (for peptides: lower case included) tokenizes to ``<unk>``, so a
    row is bad iff it is empty, longer than ``max_len``, holds ``<unk>`` or (SMILES) fails the
    alphabet's chemistry check; only the bad rows are explained (:func:`check_sequence`). Returns
    the ``uint8 [n, width + 2]`` token rows (``width`` defaults to ``max_len``; longer rows are
    cut, and bad) and the problems by row index. ``check_chemistry=False`` skips the chemistry
    check, for records the alphabet's ``normalise`` has already read as molecules.
    """
    lengths = alphabet.lengths(sequences)
    tokens = alphabet.tokenize_numpy(sequences, max_len if width is None else width)
    bad = (lengths == 0) | (lengths > max_len) | (tokens == UNK).any(axis=1)
    if check_chemistry and alphabet.chemically_valid is not None and not bad.all():
        good = np.flatnonzero(~bad)
        bad[good[~np.asarray(alphabet.chemically_valid([sequences[i] for i in good]), dtype=bool)]] = True
    return tokens, {int(i): check_sequence(sequences[i], max_len, alphabet) for i in np.flatnonzero(bad)}


def require_valid(sequences: list[str], max_len: int, *, what: str, alphabet: Alphabet = PEPTIDES) -> None:
    """Raise :class:`DataError` naming the first sequence (by index) that a model cannot take.

    ``what`` completes the message: ``"sequence 3 ('KLXK') cannot be <what>: ..."``.
    """
    for index, sequence in enumerate(sequences):
        problem = check_sequence(sequence, max_len, alphabet)
        if problem is not None:
            raise DataError(f"sequence {index} ({sequence[:60]!r}) cannot be {what}: {problem.detail}")


def normalise(raw: str) -> str:
    """Strip surrounding whitespace and upper-case; the only repairs the data layer makes."""
    return raw.strip().upper()


@dataclass(frozen=True)
class DroppedRecord:
    source: str
    record: int
    reason: str
    detail: str
    sequence: str


@dataclass
class DropLog:
    """Every record skipped under the ``drop`` policy, with counts per source and reason."""

    records: list[DroppedRecord] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    max_kept: int = 100_000  # rows kept for dropped.csv; the counts stay exact beyond it

    def add(self, item: DroppedRecord) -> None:
        self.counts[(item.source, item.reason)] += 1
        if len(self.records) < self.max_kept:
            self.records.append(item)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["source", "record", "reason", "detail", "sequence"])
        for r in self.records:
            # a huge garbage line is cut so the report stays readable
            writer.writerow([r.source, r.record, r.reason, r.detail, r.sequence[:1000]])
        return buffer.getvalue()

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (source, reason), n in sorted(self.counts.items()):
            out.setdefault(source, {})[reason] = n
        return out


class RecordFilter:
    """Apply the bad-record policy to the bad records of one source (see ``screened_chunks``)."""

    def __init__(
        self, *, max_len: int, policy: BadRecordPolicy | str, drop_log: DropLog, alphabet: Alphabet = PEPTIDES
    ):
        self.max_len = max_len
        self.alphabet = alphabet
        self.policy = BadRecordPolicy(policy)
        self.drop_log = drop_log

    def reject(self, item: DroppedRecord) -> None:
        """Raise under ``strict``; count and keep the record under ``drop``."""
        if self.policy is BadRecordPolicy.strict:
            shown = item.sequence if len(item.sequence) <= 60 else item.sequence[:57] + "..."
            raise BadRecordError(
                f"{item.source}: record {item.record}: {item.detail} in {shown!r} "
                "(data.bad_records=strict; use data.bad_records=drop to skip and count bad records)"
            )
        self.drop_log.add(item)
