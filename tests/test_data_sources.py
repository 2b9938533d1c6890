"""Sources and the bad-record policy: the documented message and counts for each bad input."""

import tracemalloc
from pathlib import Path

import pytest

from latentgraph.data.records import BadRecordError, DataError, DropLog, RecordFilter
from latentgraph.data.sources import iter_fasta, parse_source_spec, read_source


def filt(policy="drop", max_len=50):
    return RecordFilter(max_len=max_len, policy=policy, drop_log=DropLog())


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_CSV = "sequence,amp\nKLAKLAK,1\nACDXZ1,0\n,1\n" + "A" * 500 + ",0\n  glwsk ,1\n"


def test_csv_drop_policy_counts_each_bad_record(tmp_path):
    path = write(tmp_path, "bad.csv", BAD_CSV)
    f = filt()
    frame = read_source(parse_source_spec(path), f)
    assert frame["sequence"].tolist() == ["KLAKLAK", "GLWSK"]  # whitespace stripped, upper-cased
    assert frame["amp"].tolist() == [1.0, 1.0]
    reasons = {(r.record, r.reason) for r in f.drop_log.records}
    assert reasons == {(2, "non_canonical"), (3, "empty"), (4, "too_long")}
    assert f.drop_log.summary() == {path: {"empty": 1, "non_canonical": 1, "too_long": 1}}
    csv_text = f.drop_log.to_csv()
    assert csv_text.splitlines()[0] == "source,record,reason,detail,sequence"
    assert "ACDXZ1" in csv_text


@pytest.mark.parametrize(
    "body, record, fragment",
    [
        ("ACDXZ1", 1, "non-canonical character 'X' at position 4"),
        ("", 1, "empty sequence"),
        ("A" * 500, 1, "length 500 exceeds data.max_len=50"),
    ],
)
def test_csv_strict_policy_names_file_record_and_problem(tmp_path, body, record, fragment):
    path = write(tmp_path, "bad.csv", f"sequence,amp\n{body},1\n")
    with pytest.raises(BadRecordError) as info:
        read_source(parse_source_spec(path), filt("strict"))
    message = str(info.value)
    assert path in message and f"record {record}" in message and fragment in message


def test_csv_without_sequence_column(tmp_path):
    path = write(tmp_path, "nocol.csv", "seq,amp\nKLA,1\n")
    with pytest.raises(DataError, match="no 'sequence' column"):
        read_source(parse_source_spec(path), filt())


def test_csv_non_numeric_label_is_a_bad_record(tmp_path):
    path = write(tmp_path, "labels.csv", "sequence,amp\nKLA,yes\nKLB,1\nKLC,\n")
    f = filt()
    frame = read_source(parse_source_spec(path), f)
    assert frame["sequence"].tolist() == ["KLC"]  # KLB has a B (non-canonical); KLC has a missing label
    assert frame["amp"].isna().all()
    assert {r.reason for r in f.drop_log.records} == {"bad_label", "non_canonical"}
    with pytest.raises(BadRecordError, match="record 1: label column 'amp' holds 'yes'"):
        read_source(parse_source_spec(path), filt("strict"))


def test_fasta_reads_wrapped_records(tmp_path):
    path = write(tmp_path, "a.fasta", ">one\nKLAK\nLAK\n\n>two desc\nGIGK\n>three\n")
    records = list(iter_fasta(path))
    assert [(r, s) for r, s, _ in records] == [(1, "KLAKLAK"), (2, "GIGK"), (3, "")]
    f = filt()
    frame = read_source(parse_source_spec(path), f)
    assert frame["sequence"].tolist() == ["KLAKLAK", "GIGK"]
    assert f.drop_log.records[0].record == 3 and f.drop_log.records[0].reason == "empty"


def test_fasta_missing_header_is_a_format_error(tmp_path):
    path = write(tmp_path, "nohead.fasta", "KLAKLAK\n>two\nGIGK\n")
    with pytest.raises(DataError, match=r"line 1: sequence data before the first FASTA header"):
        list(iter_fasta(path))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        parse_source_spec(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="cannot tell the format"):
        parse_source_spec(write(tmp_path, "x.txt", "KLA"))
    with pytest.raises(DataError, match="unknown modlamp set 'Foo'"):
        parse_source_spec("modlamp:Foo")


def test_modlamp_source_labels():
    frame = read_source(parse_source_spec("modlamp:ACPvsTM"), filt())
    assert len(frame) == 826 and set(frame["acp"]) == {0.0, 1.0}
    assert frame["acp"].sum() == 413


def test_fasta_is_streamed_with_bounded_memory(tmp_path):
    path = tmp_path / "big.fasta"
    record = ">r\n" + "KLAKLAKKLAKLAKGIGKFLHSAKKFGKAFVGEIMNS\n"
    with open(path, "w") as handle:
        for _ in range(200_000):
            handle.write(record)
    assert path.stat().st_size > 8_000_000
    tracemalloc.start()
    count = sum(1 for _ in iter_fasta(str(path)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 200_000
    assert peak < 1_000_000, f"iterating held {peak} bytes: the reader is not streaming"
