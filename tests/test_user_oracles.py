"""The user's own attribute models from config (attributes.oracles): any callable, an ONNX file, named errors."""

from __future__ import annotations

import gzip
import importlib.resources
import re
import textwrap

import numpy as np
import pytest
import torch
from conftest import QUIET_SMOKE, run_cli

from latentgraph.attributes.sets import build_attribute_set
from latentgraph.attributes.user_oracles import UserOracleBlock
from latentgraph.config.schema import OracleSpec
from latentgraph.errors import ConfigValueError

SEQUENCES = ["KLAKLAKKLAKLAK", "GIGKFLHSAKKF", "DEEDDE"]

# a user's module, outside the package: a function, a class with arguments and column names, a bad one
USER_MODULE = textwrap.dedent(
    """
    import numpy as np

    def cationic_score(sequences):
        return np.array([sum(c in "KR" for c in s) / len(s) for s in sequences])

    class Composition:
        def __init__(self, letters):
            self.names = [f"frac_{c}" for c in letters]
            self.letters = letters

        def __call__(self, sequences):
            return np.array([[s.count(c) / len(s) for c in self.letters] for s in sequences])

    def wrong_shape(sequences):
        return np.zeros((len(sequences), 3))

    def no_acidic(sequences):
        return np.array([np.nan if "D" in s else 1.0 for s in sequences])
    """
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_oracles.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_oracles"


def block(name: str, **spec) -> UserOracleBlock:
    return UserOracleBlock(name, OracleSpec.from_entry(name, spec))


def test_a_function_and_a_class_with_arguments_become_named_columns(user_module):
    attributes = build_attribute_set(
        name="mine",
        descriptors=["length"],
        oracles={
            "cationic": OracleSpec(f"{user_module}.cationic_score", ["amp"], "our assay"),
            "composition": OracleSpec(f"{user_module}.Composition", args={"letters": ["K", "D"]}),
        },
        max_len=50,
        bad_records="drop",
    )
    assert attributes.names == ["length", "cationic", "frac_K", "frac_D"]
    assert attributes.oracle_for == {"cationic": "amp"}
    assert attributes.features_for("amp").names == ["length", "frac_K", "frac_D"]  # an oracle is never a feature
    values = attributes(SEQUENCES)
    assert values[:, 1].tolist() == pytest.approx([6 / 14, 3 / 12, 0.0])
    assert values[2, 3].item() == pytest.approx(3 / 6)


def test_each_bad_oracle_is_named_by_its_key(user_module):
    with pytest.raises(ConfigValueError, match=r"attributes\.oracles\.tox\._target_='nowhere\.f'.*cannot be imported"):
        block("tox", _target_="nowhere.f")
    with pytest.raises(ConfigValueError, match=r"attributes\.oracles\.tox\._target_.*has no 'missing'"):
        block("tox", _target_=f"{user_module}.missing")
    wrong = {"tox": OracleSpec(f"{user_module}.wrong_shape")}
    attributes = build_attribute_set(name="s", descriptors=[], oracles=wrong, max_len=50, bad_records="drop")
    with pytest.raises(ConfigValueError, match=r"attributes\.oracles\.tox.*returned shape \(3, 3\) for 3 sequences; "
                                               r"expected \(3,\)"):  # fmt: skip
        attributes(SEQUENCES)
    with pytest.raises(ConfigValueError, match=r"attributes\.oracles\.c\.oracle_for.*2 targets for 3 columns"):
        block("c", _target_=f"{user_module}.Composition", args={"letters": "KDR"}, oracle_for=["a", "b"])
    with pytest.raises(ConfigValueError, match=r"attributes\.oracles\.c\.args.*refused them"):
        block("c", _target_=f"{user_module}.Composition", args={"colours": "KDR"})


def test_nan_rows_are_counted_and_said_once(user_module, caplog):
    nan_block = block("acidic", _target_=f"{user_module}.no_acidic")
    batch = type("Batch", (), {"sequences": SEQUENCES})()
    assert torch.isnan(nan_block(batch)[:, 0]).tolist() == [False, False, True]
    nan_block(batch)
    assert nan_block.nan_rows == 2
    assert [r.getMessage() for r in caplog.records].count(
        "attributes.oracles.acidic returned NaN for 1 of 3 sequences; later NaN rows are counted in its nan_rows, "
        "not repeated here"
    ) == 1


def test_an_onnx_model_file_scores_as_the_package_that_ships_it(tmp_path):
    """macrel's own AMP forest, saved as a file and run by the adapter on macrel's featurizer: macrel's scores."""
    from latentgraph.attributes.macrel import MacrelBlock
    from latentgraph.attributes.onnx_oracle import OnnxOracle

    model = tmp_path / "amp.onnx"
    model.write_bytes(gzip.decompress((importlib.resources.files("macrel") / "data/models/AMP.onnx.gz").read_bytes()))
    oracle = OnnxOracle(str(model), featurizer="macrel.macrel_features.compute_all", per_sequence=True,
                        positive_class="AMP")  # fmt: skip
    expected = MacrelBlock(("macrel_amp",))(type("Batch", (), {"sequences": SEQUENCES})())[:, 0]
    np.testing.assert_allclose(oracle(SEQUENCES), expected.numpy(), rtol=0, atol=1e-6)
    with pytest.raises(ConfigValueError, match="no such ONNX model file"):
        OnnxOracle(str(tmp_path / "missing.onnx"))
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigValueError, match="cannot be loaded as an ONNX model"):
        OnnxOracle(str(tmp_path / "bad.onnx"))
    assert isinstance(torch.as_tensor(oracle(SEQUENCES[:1])), torch.Tensor)


def test_a_user_oracle_of_the_target_is_named_with_its_declared_labels_in_the_report(tmp_path):
    (tmp_path / "my_oracles.py").write_text(USER_MODULE)
    oracle = [
        "attributes.external=[]",
        "+attributes.oracles.cationic._target_=my_oracles.cationic_score",
        "+attributes.oracles.cationic.oracle_for=[amp]",
        "+attributes.oracles.cationic.labels_seen='the lab assay of 2025, 300 peptides'",
    ]
    run_dir = tmp_path / "run"
    env = {"PYTHONPATH": str(tmp_path)}
    result = run_cli(*QUIET_SMOKE, *oracle, f"hydra.run.dir={run_dir}", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (run_dir / "report.html").read_text()
    assert "target oracle cationic, which saw what its user declared" in report
    assert "attributes.oracles.cationic.labels_seen): the lab assay of 2025, 300 peptides" in report
    bad = run_cli(*QUIET_SMOKE, "+attributes.oracles.tox._target_=my_oracles.nothing", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "attributes.oracles.tox._target_='my_oracles.nothing'" in bad.stderr


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["+attributes.oracles.tox._target_=a.f", "+attributes.oracles.tox.orcle_for=[x]"],
         "attributes.oracles.tox.orcle_for="),
        (["+attributes.oracles.tox._target_=f"], "attributes.oracles.tox._target_='f': must name a callable"),
        (["+attributes.oracles.tox=3"], "attributes.oracles.tox=3: must be a mapping with _target_"),
    ],
)  # fmt: skip
def test_an_oracle_entry_is_checked_when_the_config_is_composed(overrides, message):
    from test_config import validated

    with pytest.raises(ConfigValueError, match=re.escape(message)):
        validated(*overrides)


def test_a_model_file_changed_in_place_is_another_oracle_to_the_cache(tmp_path):
    from test_config import validated

    from latentgraph.runtime.cache.keys import perturbation_key

    model = tmp_path / "tox.onnx"
    model.write_bytes(b"first weights")
    oracle = ["+attributes.oracles.tox._target_=a.b", f"+attributes.oracles.tox.args.path={model}"]
    before = perturbation_key(validated(*oracle), {})
    assert perturbation_key(validated(*oracle), {}) == before
    model.write_bytes(b"other weights")
    assert perturbation_key(validated(*oracle), {}) != before
    assert perturbation_key(validated(), {}) == perturbation_key(validated("attributes.oracles={}"), {})
