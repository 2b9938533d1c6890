"""Fuzzed input: the readers, the tokenizer and the descriptors take anything without crashing.

Whatever the bytes, only the documented outcomes occur: a :class:`DataError` naming the file and
line (a format error), a :class:`BadRecordError` under ``strict``, or counted drops under
``drop``. Every kept sequence is valid and every valid sequence gets finite attributes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentgraph.attributes import AttributeSet, DescriptorBlock
from latentgraph.attributes.descriptors import compute_descriptors
from latentgraph.data.alphabet import AMINO_ACIDS, BOS, EOS, VOCAB_SIZE, detokenize, tokenize, tokenize_numpy
from latentgraph.data.records import BadRecordError, BadRecordPolicy, DataError, DropLog, RecordFilter, check_sequence
from latentgraph.data.sources import iter_records, parse_source_spec, read_source

MAX_LEN = 50
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# pieces that break naive parsers, mixed with arbitrary unicode text
PIECES = [
    ">",
    ">seq",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "*",
    ",",
    '"',
    ";",
    "\x00",
    "\ufeff",
    "é",
    "💊",
    "klrw",
    "KLRWGA",
    "ACDEFGHIKLMNPQRSTVWY",
    "XBZUO",
    "sequence,amp\n",
    "1",
    "nan",
    "inf",
    "A" * 200_000,
]
text_files = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=30)), max_size=40).map("".join)
any_bytes = st.one_of(
    st.binary(max_size=2000), text_files.map(lambda s: s.encode("utf-8")), text_files.map(lambda s: s.encode("utf-16"))
)


def read_with(path, policy: str) -> tuple[list[str], int]:
    """The sequences kept from ``path`` and the number of records dropped."""
    drops = DropLog()
    frame = read_source(parse_source_spec(str(path)), RecordFilter(max_len=MAX_LEN, policy=policy, drop_log=drops))
    return list(frame["sequence"]), drops.total


@pytest.mark.parametrize("suffix", [".fasta", ".csv"])
@FUZZ
@given(content=any_bytes)
def test_readers_on_arbitrary_bytes_keep_valid_records_and_count_the_rest(tmp_path, suffix, content):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        n_records = sum(1 for _ in iter_records(parse_source_spec(str(path))))
        kept, dropped = read_with(path, "drop")
    except DataError as error:  # a format error: it names the file (and line where there is one)
        assert str(path) in str(error)
        return
    assert len(kept) + dropped == n_records
    assert all(check_sequence(s, MAX_LEN) is None for s in kept)
    try:
        strict, _ = read_with(path, "strict")
    except BadRecordError as error:
        assert dropped > 0 and "record " in str(error) and "data.bad_records=drop" in str(error)
    else:
        assert dropped == 0 and strict == kept


@FUZZ
@given(
    sequences=st.lists(st.one_of(st.text(max_size=60), st.sampled_from(PIECES[:-1])), max_size=20),
    max_len=st.integers(1, 60),
)
def test_tokenizer_never_crashes_and_keeps_the_row_layout(sequences, max_len):
    tokens = tokenize_numpy(sequences, max_len)
    assert tokens.shape == (len(sequences), max_len + 2) and int(tokens.max(initial=0)) < VOCAB_SIZE
    if sequences:
        assert (tokens[:, 0] == BOS).all()
        lengths = np.minimum([len(s) for s in sequences], max_len)
        assert (tokens[np.arange(len(sequences)), lengths + 1] == EOS).all()
    valid = [s for s in sequences if check_sequence(s, max_len) is None]
    assert detokenize(tokenize(valid, max_len)[:, 1:]) == valid  # valid sequences round-trip


peptides = st.text(alphabet=AMINO_ACIDS, min_size=1, max_size=MAX_LEN)


@FUZZ
@given(sequences=st.lists(peptides, min_size=1, max_size=30))
def test_descriptors_of_valid_peptides_are_always_finite(sequences):
    values = compute_descriptors(tokenize(sequences, MAX_LEN))
    assert values.shape == (len(sequences), 12) and bool(torch.isfinite(values).all())


@FUZZ
@given(sequences=st.lists(st.one_of(peptides, st.text(max_size=60), st.sampled_from(PIECES[:-1])), max_size=20))
def test_attribute_set_on_anything_gives_finite_rows_or_counted_nan_rows(sequences):
    attributes = AttributeSet([DescriptorBlock()], MAX_LEN, BadRecordPolicy.drop)
    values = attributes(sequences)
    good = torch.tensor([check_sequence(s, MAX_LEN) is None for s in sequences], dtype=torch.bool)
    assert values.shape == (len(sequences), 12)
    assert bool(torch.isfinite(values[good]).all()) and bool(torch.isnan(values[~good]).all())
    assert attributes.drop_log.total == int((~good).sum())
    strict = AttributeSet([DescriptorBlock()], MAX_LEN, BadRecordPolicy.strict)
    if bool(good.all()):
        assert torch.equal(strict(sequences), values)
    else:
        with pytest.raises(BadRecordError, match=r"attribute input: record \d+: "):
            strict(sequences)


def test_huge_and_empty_files(tmp_path):
    """One 5 MB line, an empty file, a file of blank lines: counted drops or empty results, no crash."""
    huge = tmp_path / "huge.fasta"
    huge.write_text(">a\n" + "A" * 5_000_000 + "\n>b\nKLRW\n")
    assert read_with(huge, "drop") == (["KLRW"], 1)
    huge_csv = tmp_path / "huge.csv"
    huge_csv.write_text("sequence,amp\n" + "A" * 5_000_000 + ",1\nKLRW,0\n")
    assert read_with(huge_csv, "drop") == (["KLRW"], 1)
    for name in ("empty.fasta", "blank.fasta"):
        path = tmp_path / name
        path.write_text("" if name.startswith("empty") else "\n \n\t\n")
        assert read_with(path, "strict") == ([], 0)
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_text("")
    with pytest.raises(DataError, match="no 'sequence' column"):
        read_with(empty_csv, "drop")


def test_csv_labels_that_are_not_numbers_are_counted(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("sequence,amp\nKLRW,1\nGLFD,yes\nAAAK,inf\nWWKK,\n")
    drops = DropLog()
    frame = read_source(parse_source_spec(str(path)), RecordFilter(max_len=MAX_LEN, policy="drop", drop_log=drops))
    assert list(frame["sequence"]) == ["KLRW", "WWKK"] and math.isnan(frame["amp"].iloc[1])
    assert drops.summary() == {str(path): {"bad_label": 2}}
