"""Record validation and the bad-record policy (docs/method.md §1).

A record is bad when it is empty, longer than ``max_len``, or holds a character that is not one
of the 20 canonical amino acids. Before the check a record is stripped of surrounding whitespace
and upper-cased (``"acd "`` is read as ``"ACD"``); nothing else is repaired.

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
from latentgraph.data.alphabet import AMINO_ACIDS, UNK, tokenize_numpy
from latentgraph.errors import BadRecordError, DataError

_CANONICAL = frozenset(AMINO_ACIDS)


@dataclass(frozen=True)
class RecordProblem:
    reason: str  # "empty" | "non_canonical" | "too_long"
    detail: str


def check_sequence(sequence: str, max_len: int) -> RecordProblem | None:
    """Return what is wrong with an already normalised sequence, or ``None`` if it is good."""
    if not sequence:
        return RecordProblem("empty", "empty sequence")
    for position, char in enumerate(sequence, start=1):
        if char not in _CANONICAL:
            return RecordProblem("non_canonical", f"non-canonical character {char!r} at position {position}")
    if len(sequence) > max_len:
        return RecordProblem("too_long", f"length {len(sequence)} exceeds data.max_len={max_len}")
    return None


def screen_sequences(
    sequences: list[str], max_len: int, width: int | None = None
) -> tuple[np.ndarray, dict[int, RecordProblem]]:
    """Tokenize normalised sequences and find the bad ones without a per-character Python loop.

    A character outside the alphabet (lower case included) tokenizes to ``<unk>``, so a row is bad
    iff it is empty, longer than ``max_len`` or holds ``<unk>``; only the bad rows are explained
    (:func:`check_sequence`). Returns the ``uint8 [n, width + 2]`` token rows (``width`` defaults
    to ``max_len``; longer rows are cut, and bad) and the problems by row index.
    """
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    tokens = tokenize_numpy(sequences, max_len if width is None else width)
    bad = (lengths == 0) | (lengths > max_len) | (tokens == UNK).any(axis=1)
    return tokens, {int(i): check_sequence(sequences[i], max_len) for i in np.flatnonzero(bad)}


def require_valid(sequences: list[str], max_len: int, *, what: str) -> None:
    """Raise :class:`DataError` naming the first sequence (by index) that a model cannot take.

    ``what`` completes the message: ``"sequence 3 ('KLXK') cannot be <what>: ..."``.
    """
    for index, sequence in enumerate(sequences):
        problem = check_sequence(sequence, max_len)
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

    def __init__(self, *, max_len: int, policy: BadRecordPolicy | str, drop_log: DropLog):
        self.max_len = max_len
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
