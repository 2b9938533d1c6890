"""Read, validate and tokenize a sequence file of any size in bounded memory.

:func:`stream_token_chunks` reads records one at a time (:func:`latentgraph.data.sources.iter_records`),
collects ``chunk_size`` of them, and validates and tokenizes each chunk in one vectorised pass:
a chunk is good where its length is in ``1..max_len`` and no character maps to ``<unk>``; only the
bad rows are explained in words, through the same bad-record policy as every other reader
(``strict`` raises naming the record, ``drop`` counts it). Memory is bounded by one chunk of
strings plus its ``uint8`` token rows, whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from latentgraph.data.alphabet import UNK, tokenize_numpy
from latentgraph.data.records import BadRecordPolicy, DroppedRecord, DropLog, RecordFilter, check_sequence
from latentgraph.data.sources import iter_records, parse_source_spec


def stream_token_chunks(path: str, max_len: int, *, policy: BadRecordPolicy | str = BadRecordPolicy.drop,
                        drop_log: DropLog | None = None, chunk_size: int = 65_536) -> Iterator[np.ndarray]:
    """Yield ``uint8 [k, max_len + 2]`` token rows of the file's valid records, in file order.

    Args:
        path: a FASTA or CSV file (as a data source spec).
        max_len: the longest valid sequence.
        policy: ``strict`` raises :class:`~latentgraph.data.records.BadRecordError` at the first bad
            record; ``drop`` skips and counts it in ``drop_log``.
        drop_log: where dropped records are counted (a new one if omitted).
        chunk_size: records per vectorised pass (bounds memory).
    """
    spec = parse_source_spec(path)
    records = RecordFilter(max_len=max_len, policy=policy, drop_log=drop_log if drop_log is not None else DropLog())
    numbers: list[int] = []
    sequences: list[str] = []
    for number, raw, labels in iter_records(spec):
        if isinstance(labels, DroppedRecord):  # a CSV row with a bad label
            records.reject(labels)
            continue
        numbers.append(number)
        sequences.append(raw.strip().upper())
        if len(sequences) == chunk_size:
            yield _screen(spec.location, numbers, sequences, max_len, records)
            numbers, sequences = [], []
    if sequences:
        yield _screen(spec.location, numbers, sequences, max_len, records)


def _screen(source: str, numbers: list[int], sequences: list[str], max_len: int, records: RecordFilter) -> np.ndarray:
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    tokens = tokenize_numpy(sequences, max_len)  # rows longer than max_len are cut here, and bad below
    bad = (lengths == 0) | (lengths > max_len) | (tokens == UNK).any(axis=1)
    for i in np.flatnonzero(bad):
        problem = check_sequence(sequences[i], max_len)
        records.reject(DroppedRecord(source, numbers[i], problem.reason, problem.detail, sequences[i]))
    return tokens[~bad]
