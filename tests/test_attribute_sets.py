"""Attribute sets: columns, target-oracle exclusion, bad-input policy, the macrel adapter."""

from __future__ import annotations

import sys

import pytest
import torch
from modlamp.datasets import load_AMPvsUniProt

from latentgraph.attributes import DESCRIPTOR_NAMES, AttributeSet, DescriptorBlock, build_attribute_set
from latentgraph.attributes.classifier import SequenceClassifier
from latentgraph.attributes.descriptors import compute_descriptors
from latentgraph.config import ConfigValueError
from latentgraph.data.alphabet import UNK, tokenize
from latentgraph.data.records import BadRecordError

GOOD = ["GIGKFLHSAKKFGKAFVGEIMNS", "KLAKLAKKLAKLAK", "MKTAYIAKQRQISFVKSHFSRQ"]


def classifier(name: str) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(name=name, max_len=50, embedding_dim=8, channels=4, kernel_sizes="3")


def default_set(bad_records="drop") -> AttributeSet:
    return build_attribute_set(
        name="default",
        descriptors=DESCRIPTOR_NAMES,
        classifiers=[classifier("amp"), classifier("acp")],
        max_len=50,
        bad_records=bad_records,
    )


def test_default_set_columns_and_values():
    attributes = default_set()
    assert attributes.names == [*DESCRIPTOR_NAMES, "amp", "acp"]
    assert attributes.oracle_for == {"amp": "amp", "acp": "acp"}
    values = attributes(GOOD)
    assert values.shape == (3, 14) and values.dtype == torch.float32 and torch.isfinite(values).all()
    expected = compute_descriptors(tokenize(GOOD, 50)).float()
    torch.testing.assert_close(values[:, :12], expected)
    amp = attributes.blocks[1].model.predict_proba(GOOD)
    torch.testing.assert_close(values[:, 12], amp)


def test_token_batches_give_the_same_values_as_strings():
    attributes = default_set()
    torch.testing.assert_close(attributes(tokenize(GOOD, 50)), attributes(GOOD))
    torch.testing.assert_close(attributes(tokenize(GOOD, 50)[:, 1:]), attributes(GOOD))  # without <bos>


def test_the_targets_own_oracle_is_never_a_feature():
    attributes = default_set()
    features = attributes.features_for("amp")
    assert "amp" not in features.names and "acp" in features.names and len(features) == 13
    assert features(GOOD).shape == (3, 13)
    assert attributes.oracle("amp").names == ["amp"]
    assert attributes.features_for("hemolysis").names == attributes.names  # no oracle to drop
    with pytest.raises(KeyError, match="no oracle for 'hemolysis'"):
        attributes.oracle("hemolysis")


def test_bad_input_strict_raises_naming_the_record():
    attributes = default_set("strict")
    with pytest.raises(BadRecordError, match=r"record 2: non-canonical character 'X' at position 3 in 'KLXK'"):
        attributes(["KLAK", "KLXK"])
    with pytest.raises(BadRecordError, match="record 1: empty sequence"):
        attributes([""])
    with pytest.raises(BadRecordError, match="exceeds data.max_len=50"):
        attributes(["A" * 51])
    with pytest.raises(BadRecordError, match="record 1: non-canonical character 'k'"):
        attributes(["klak"])  # lower case is not repaired at this edge


def test_bad_input_drop_gives_counted_nan_rows_and_leaves_good_rows_alone(caplog):
    attributes = default_set("drop")
    batch = [GOOD[0], "KLXK", GOOD[1], "", GOOD[2], "A" * 60]
    with caplog.at_level("WARNING"):
        values = attributes(batch)
    bad = torch.tensor([False, True, False, True, False, True])
    assert torch.isnan(values[bad]).all()
    assert torch.isfinite(values[~bad]).all()
    torch.testing.assert_close(values[~bad], attributes(GOOD))
    assert attributes.drop_log.summary() == {"attribute input": {"non_canonical": 1, "empty": 1, "too_long": 1}}
    assert "skipped 3 of 6 sequences" in caplog.text


def test_unknown_token_in_a_token_batch_is_not_hidden():
    tokens = tokenize(GOOD, 50)
    tokens[1, 3] = UNK  # detokenizing alone would silently drop it
    with pytest.raises(BadRecordError, match="record 2"):
        default_set("strict")(tokens)
    values = default_set("drop")(tokens)
    assert torch.isnan(values[1]).all() and torch.isfinite(values[[0, 2]]).all()


def test_all_bad_and_empty_batches():
    attributes = default_set("drop")
    assert torch.isnan(attributes(["B", "J"])).all()
    assert attributes([]).shape == (0, 14)


def test_attribute_names_must_be_unique():
    with pytest.raises(ValueError, match="repeated"):
        AttributeSet([DescriptorBlock(["length"]), DescriptorBlock(["length"])], max_len=50)


@pytest.fixture(scope="module")
def macrel_set():
    return build_attribute_set(  # macrel and onnxruntime are dependencies: no skip if they are missing
        name="macrel", descriptors=DESCRIPTOR_NAMES, external=["macrel"], max_len=50, bad_records="drop"
    )


def test_macrel_adapter_scores_amps_above_non_amps(macrel_set):
    assert macrel_set.names[-2:] == ["macrel_amp", "macrel_hemolysis"]
    data = load_AMPvsUniProt()
    amps = [s for s, y in zip(data.sequences, data.target) if y == 1 and len(s) <= 50][:200]
    others = [s for s, y in zip(data.sequences, data.target) if y == 0 and len(s) <= 50][:200]
    amp_values, other_values = macrel_set(amps), macrel_set(others)
    for values in (amp_values, other_values):
        assert ((values[:, -2:] >= 0) & (values[:, -2:] <= 1)).all()
    # macrel's AMP model separates AMPvsUniProt (it was trained on similar data)
    assert amp_values[:, -2].mean() > other_values[:, -2].mean() + 0.3
    features = macrel_set.features_for("amp")
    assert "macrel_amp" not in features.names and "macrel_hemolysis" in features.names


def test_macrel_missing_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "macrel", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "macrel.macrel_features", None)
    with pytest.raises(ConfigValueError, match=r"pip install macrel onnxruntime") as info:
        build_attribute_set(name="macrel", descriptors=[], external=["macrel"], max_len=50, bad_records="drop")
    assert info.value.key == "attributes.external"


def test_descriptor_only_set_trains_no_classifier(smoke_config, tmp_path):
    from omegaconf import open_dict

    from latentgraph.config import validate_config
    from latentgraph.pipeline.oracles import train_attribute_classifiers

    with open_dict(smoke_config):
        smoke_config.attributes.use_classifiers = False
    assert train_attribute_classifiers(validate_config(smoke_config), data=None, run_dir=tmp_path) == {}
    assert not (tmp_path / "metrics" / "classifiers.json").exists()
