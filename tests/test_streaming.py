"""Streamed reading of large sequence files: same records as the whole-file reader, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from latentgraph.data.alphabet import tokenize_numpy
from latentgraph.data.records import BadRecordError, DropLog, RecordFilter
from latentgraph.data.sources import parse_source_spec, read_source
from latentgraph.data.streaming import stream_token_chunks

AA = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)


def write_fasta(path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for i in range(n):
            sequence = AA[rng.integers(0, 20, size=rng.integers(5, 40))].tobytes().decode()
            if i % 97 == 3:
                sequence = sequence[:2] + "*" + sequence[3:]
            elif i % 101 == 5:
                sequence = sequence.lower() + "  "  # repaired: upper-cased and stripped
            elif i % 89 == 7:
                sequence = ""
            wrapped = "\n".join(sequence[j : j + 7] for j in range(0, len(sequence), 7))
            handle.write(f">r{i}\n{wrapped}\n")


def test_streamed_chunks_equal_the_whole_file_reader_with_the_same_drops(tmp_path):
    path = tmp_path / "mixed.fasta"
    write_fasta(path, 3000)
    whole_drops, stream_drops = DropLog(), DropLog()
    frame = read_source(parse_source_spec(str(path)), RecordFilter(max_len=30, policy="drop", drop_log=whole_drops))
    chunks = list(stream_token_chunks(str(path), 30, drop_log=stream_drops, chunk_size=256))
    assert len(chunks) > 10 and all(chunk.dtype == np.uint8 for chunk in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), tokenize_numpy(list(frame["sequence"]), 30))
    assert stream_drops.summary() == whole_drops.summary() and stream_drops.total > 100
    assert [(r.record, r.reason) for r in stream_drops.records] == [(r.record, r.reason) for r in whole_drops.records]


def test_strict_stops_at_the_first_bad_record_naming_it(tmp_path):
    path = tmp_path / "mixed.fasta"
    write_fasta(path, 50)
    with pytest.raises(BadRecordError, match=r"mixed.fasta: record 4: non-canonical character '\*' at position 3"):
        list(stream_token_chunks(str(path), 50, policy="strict", chunk_size=16))


def test_memory_stays_bounded_by_the_chunk_not_the_file(tmp_path):
    path = tmp_path / "large.fasta"
    write_fasta(path, 200_000)  # about 6 MB of FASTA
    tracemalloc.start()
    kept = sum(len(chunk) for chunk in stream_token_chunks(str(path), 50, chunk_size=4096))
    _, streamed_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    frame = read_source(parse_source_spec(str(path)), RecordFilter(max_len=50, policy="drop", drop_log=DropLog()))
    _, whole_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert kept == len(frame) > 190_000
    assert streamed_peak < 8 * 2**20 < whole_peak  # a 4,096-record chunk vs every record at once


def test_bad_labels_and_bad_sequences_are_reported_in_record_order(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("sequence,amp\nKLRW,1\nKL*W,0\nGLFD,maybe\nAAAK,1\n")
    with pytest.raises(BadRecordError, match=r"record 2: non-canonical character '\*'"):
        read_source(parse_source_spec(str(path)), RecordFilter(max_len=30, policy="strict", drop_log=DropLog()))
    drops = DropLog()
    frame = read_source(parse_source_spec(str(path)), RecordFilter(max_len=30, policy="drop", drop_log=drops))
    assert list(frame["sequence"]) == ["KLRW", "AAAK"] and list(frame["amp"]) == [1.0, 1.0]
    assert [(r.record, r.reason) for r in drops.records] == [(2, "non_canonical"), (3, "bad_label")]
