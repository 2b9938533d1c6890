"""OOD identity to the training data: the measure, data.max_identity and what the run reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FAST, run_cli

from latentgraph.data.identity import distribution, nearest_identity
from latentgraph.data.records import DataError

ID_TRAIN = ["GIGKFLHSAKKFGKAFVGEIMNS", "KWKLFKKIEKVGQNIRDGIIKAG", "FLPLIGRVLSGIL"]


def test_identity_counts_identical_residues_over_the_shorter_sequence():
    queries = [
        "GIGKFLHSAKWFGKAFVGEIMNS",  # one substitution in 23 residues
        "KWKLFKKIEK",  # a fragment of a longer sequence: identical over its own length
        "FLPLIGRVLSGILGG",  # the reference plus two residues
        "DDDDDDDDDD",  # nothing alike
    ]
    found = nearest_identity(queries, {"id_train": ID_TRAIN, "empty": []})
    assert found["id_train"][:3] == pytest.approx([22 / 23, 1.0, 1.0])
    assert found["id_train"][3] < 0.3
    assert (found["empty"] == 0).all()


def test_each_reference_set_gets_its_own_nearest_neighbour():
    found = nearest_identity(["GIGKFLHSAKKFGKAFVGEIMNS"], {"a": ID_TRAIN[1:], "b": ID_TRAIN[:1]})
    assert found["b"][0] == 1.0 and found["a"][0] < 0.5


def test_parallel_blocks_give_each_query_its_own_row_in_order(monkeypatch):
    from latentgraph.data import identity

    rng = np.random.default_rng(0)
    residues = list("ACDEFGHIKLMNPQRSTVWY")
    queries = ["".join(rng.choice(residues, rng.integers(5, 30))) for _ in range(9)] + ID_TRAIN
    references = ["".join(rng.choice(residues, rng.integers(5, 30))) for _ in range(40)] + ID_TRAIN
    one = np.array(list(identity._identity_rows(queries, references, workers=1)))
    monkeypatch.setattr(identity, "IDENTITY_BLOCK", 4)  # blocks of 4: the last block is short
    two = np.array(list(identity._identity_rows(queries, references, workers=2)))
    assert one.shape == (12, 43) and np.array_equal(one, two)
    assert (np.diag(one[-3:, -3:]) == 1.0).all()  # each of ID_TRAIN against itself


def test_molecules_use_the_tanimoto_similarity_of_morgan_fingerprints():
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    queries, references = ["CCOc1ccccc1", "CCN"], ["CCOc1ccccc1C", "c1ccncc1", "CCN"]
    found = nearest_identity(queries, {"corpus": references}, molecules=True)["corpus"]
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    prints = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in references]
    expected = max(DataStructs.BulkTanimotoSimilarity(generator.GetFingerprint(Chem.MolFromSmiles(queries[0])), prints))
    assert found[0] == pytest.approx(expected) and 0 < found[0] < 1
    assert found[1] == 1.0


def test_the_distribution_counts_sequences_at_or_above_each_bound():
    summary = distribution(np.array([0.2, 0.5, 0.8, 0.95, 1.0]))
    assert summary["at_least"] == {"0.5": 4, "0.8": 3, "0.9": 2, "1.0": 1}
    assert summary["q50"] == 0.8 and summary["max"] == 1.0


def _prepare(tmp_path, **overrides):
    from latentgraph.data import prepare_data

    ood = tmp_path / "shift.csv"
    ood.write_text(
        "sequence,label\n"
        "GIGKFLHSAKWFGKAFVGEIMNS,1\n"  # a point variant of an ID sequence: 22/23 identical
        "KWKLFKKIEK,1\n"  # a fragment of an ID sequence
        "DDEEDDEEPPGGSSDDEE,0\n"
        "LLLLVVVVAAAAIIIIPPGG,0\n"
        "KKRRKKRRWWPPGGKK,1\n"
    )
    ids = tmp_path / "id.csv"
    rows = [(s, 1) for s in ID_TRAIN] + [(s, 0) for s in ["AAAAGGGGSSSSTTTT", "NNNNQQQQDDDDEEEE", "PPPPGGGGAAAASSSS"]]
    ids.write_text("sequence,amp\n" + "".join(f"{s},{y}\n" for s, y in rows * 1))
    settings = dict(
        id_source=str(ids), ood_sources=[], ood_csv=[str(ood)], corpus_sources=[], target="amp", max_len=50,
        bad_records="drop", val_fraction=0.0, test_fraction=0.0, split_seed=0, corpus_val_fraction=0.0,
    )  # fmt: skip
    return prepare_data(**{**settings, **overrides})


def test_max_identity_drops_near_copies_counts_and_names_them_and_keeps_the_corpus(tmp_path):
    measured = _prepare(tmp_path)
    assert measured.summary["identity"]["sets"]["shift"]["to_id_train"]["at_least"]["0.9"] == 2
    assert len(measured.ood["shift"]) == 5 and measured.identity_dropped.empty
    filtered = _prepare(tmp_path, max_identity=0.8)
    assert sorted(filtered.identity_dropped["sequence"]) == ["GIGKFLHSAKWFGKAFVGEIMNS", "KWKLFKKIEK"]
    assert filtered.identity_dropped["identity"].min() > 0.8
    assert filtered.summary["identity"]["sets"]["shift"]["dropped"] == 2
    assert filtered.summary["ood"]["shift"] == {"n": 3, "positives": 1}
    assert filtered.corpus_train == measured.corpus_train  # the autoencoder's corpus does not change
    assert "identity" not in _prepare(tmp_path, identity=False).summary


def test_max_identity_that_leaves_one_class_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="fewer than two classes.*data.max_identity=0.1"):
        _prepare(tmp_path, max_identity=0.1)


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2"])
def test_a_max_identity_outside_zero_to_one_exits_2_naming_the_key(tmp_path, value):
    result = run_cli("experiment=smoke", *FAST, f"data.max_identity={value}", cwd=tmp_path)
    assert result.returncode == 2
    assert f"data.max_identity={value}" in result.stderr and "must be in (0, 1]" in result.stderr


def test_the_report_shows_each_ood_sets_identity(tmp_path):
    from latentgraph.report.html import write_report
    from latentgraph.run_layout import RunLayout

    measured = _prepare(tmp_path, max_identity=0.8)
    run = RunLayout(tmp_path / "run")
    run.data.path.mkdir(parents=True)
    run.data.summary.write_text(json.dumps({**measured.summary, "sources": {}}))
    page = write_report(run.path).read_text()
    assert "OOD identity to the training data" in page and "autoencoder corpus" in page
    assert "2 above 0.8" in page
