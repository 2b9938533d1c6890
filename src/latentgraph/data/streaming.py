"""Read, validate and tokenize a sequence file of any size in bounded memory.

:func:`stream_token_chunks` reads records one at a time and validates and tokenizes them
``chunk_size`` at a time (:func:`latentgraph.data.sources.screened_chunks`, the same screening
the whole-file reader :func:`~latentgraph.data.sources.read_source` uses), keeping only one chunk
of strings plus its ``uint8`` token rows in memory, whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from latentgraph.data.records import BadRecordPolicy, DropLog, RecordFilter
from latentgraph.data.sources import parse_source_spec, screened_chunks


def stream_token_chunks(
    path: str,
    max_len: int,
    *,
    policy: BadRecordPolicy | str = BadRecordPolicy.drop,
    drop_log: DropLog | None = None,
    chunk_size: int = 65_536,
) -> Iterator[np.ndarray]:
    """Yield ``uint8 [k, max_len + 2]`` token rows of the file's valid records, in file order.

    Args:
        path: a FASTA or CSV file (as a data source spec).
        max_len: the longest valid sequence.
        policy: ``strict`` raises :class:`~latentgraph.data.records.BadRecordError` at the first bad
            record; ``drop`` skips and counts it in ``drop_log``.
        drop_log: where dropped records are counted (a new one if omitted).
        chunk_size: records per vectorised pass (bounds memory).
    """
    records = RecordFilter(max_len=max_len, policy=policy, drop_log=drop_log if drop_log is not None else DropLog())
    for _, _, tokens in screened_chunks(parse_source_spec(path), records, chunk_size):
        yield tokens
