"""The settings have one source of truth, artifacts get plain permissions, and the pipeline's
edges (early stopping, empty blankets, progress bars, the compose API) behave as documented."""

from __future__ import annotations

import inspect
import logging
import os
import stat
import subprocess
import sys
from dataclasses import fields

import networkx as nx
import pytest
import torch
from conftest import settings_for
from toy_models import ToyAttributes, ToyAutoencoder

from latentgraph.atomic import atomic_target, write_json
from latentgraph.attributes.classifier import SequenceClassifier
from latentgraph.config.schema import (
    ClassifierTrainingConfig,
    DataConfig,
    GraphConfig,
    ModelConfig,
    PerturbationConfig,
    PredictorConfig,
)
from latentgraph.data import SequenceDataModule, prepare_data
from latentgraph.errors import ConfigValueError
from latentgraph.graph import AttributeGraph, build_graph
from latentgraph.graph.build import graph_from_tests
from latentgraph.models.wae import SequenceWAE
from latentgraph.perturbation import run_perturbation
from latentgraph.pipeline.graph import blanket_report
from latentgraph.runtime.cache.keys import SOURCE_MODEL_KEYS
from latentgraph.runtime.cache.store import StageCache, held_lock
from latentgraph.runtime.tracking import build_callbacks


def _defaults(function) -> dict:
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _schema(cls) -> dict:
    instance = cls()
    return {f.name: getattr(instance, f.name) for f in fields(cls)}


def _agree(library: dict, schema: dict, names) -> None:
    for name in names:
        left, right = library[name], schema[name]
        if isinstance(left, tuple):
            left = list(left)
        assert left == right, f"{name}: library default {left!r}, config default {right!r}"


def test_library_defaults_equal_config_defaults():
    graph = _schema(GraphConfig)
    graph_settings = ["threshold", "alpha", "min_effect", "tau", "structure"]
    _agree(_defaults(build_graph), graph, [*graph_settings, "sem"])
    _agree(_defaults(graph_from_tests), graph, graph_settings)
    perturbation = ["n_base", "deltas", "base", "batch_size", "n_permutations", "n_directions"]
    _agree(_defaults(run_perturbation), _schema(PerturbationConfig), perturbation)
    model = _schema(ModelConfig)
    # model.source says where the run's autoencoder comes from (fitted or shipped), not how it is built
    _agree(_defaults(SequenceWAE.__init__), model, [name for name in model if name not in SOURCE_MODEL_KEYS])
    # the predictors and the data layer take the config's own PredictorConfig and DataConfig: no defaults to keep equal
    assert PredictorConfig().regimes == ["supervised", "unsupervised", "fewshot", "limited"]
    classifier = ClassifierTrainingConfig().model_kwargs()
    _agree(_defaults(SequenceClassifier.__init__), classifier, list(classifier))


def test_the_data_layer_takes_the_typed_settings_and_refuses_a_name_it_does_not_know():
    module = SequenceDataModule(DataConfig(batch_size=32), seed=1, augment_crop=0.0)
    assert (module.batch_size, module.augment_crop, module.max_len) == (32, 0.0, DataConfig().max_len)
    assert SequenceDataModule().settings == DataConfig()  # the schema's defaults, written once
    with pytest.raises(TypeError, match=r"\['batch_sise'\] are not DataConfig settings; known: id_source"):
        SequenceDataModule(batch_sise=32)
    with pytest.raises(TypeError, match=r"\['targte'\] are not DataConfig settings"):
        prepare_data(targte="amp")  # it once swallowed unknown names
    with pytest.raises(ConfigValueError, match="val_fraction"):
        prepare_data(val_fraction=1.5)  # checked as the config's values are


def test_compose_api_works_in_a_fresh_interpreter(tmp_path):
    code = (
        "from hydra import compose, initialize_config_module\n"
        "with initialize_config_module('latentgraph.conf', version_base='1.3'):\n"
        "    cfg = compose('config', overrides=['experiment=smoke'])\n"
        "print(cfg.model.latent_dim, cfg.graph.min_effect)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["8", "auto"]


def test_artifacts_get_the_permissions_of_a_plain_write(tmp_path):
    old = os.umask(0o022)
    try:
        json_file = write_json(tmp_path / "graph" / "blanket.json", {"blanket": []})
        with atomic_target(tmp_path / "report.html") as tmp:
            tmp.write_text("<html></html>")
        with StageCache(tmp_path / "stages").store("wae", "k") as entry:
            (entry / "wae.json").write_text("{}")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert mode(plain) == 0o644
    assert mode(json_file) == mode(tmp_path / "report.html") == 0o644
    assert mode(tmp_path / "stages" / "wae" / "k") == 0o755  # as mkdir would make it


def test_a_cache_lock_follows_the_umask_so_a_group_can_share_the_cache(tmp_path):
    old = os.umask(0o002)
    try:
        with held_lock(tmp_path / "stages" / "wae" / "k.lock", "stage wae", timeout_s=1):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "stages" / "wae" / "k.lock").stat().st_mode) == 0o664


def test_early_stopping_follows_its_own_mode(tmp_path):
    from pytorch_lightning.callbacks import EarlyStopping

    settings = settings_for(
        "callbacks.early_stopping.enabled=true",
        "callbacks.early_stopping.monitor=val/token_acc",
        "callbacks.early_stopping.mode=max",
        "callbacks.early_stopping.patience=2",
    )
    assert str(settings.callbacks.checkpoint.mode) == "min"  # the checkpoint still watches val/recon
    stopper = next(c for c in build_callbacks(settings, tmp_path) if isinstance(c, EarlyStopping))
    assert stopper.mode == "max"
    best = torch.tensor(0.0)
    for accuracy in (0.5, 0.6, 0.7, 0.8):  # rising accuracy: always an improvement, never a stop
        should_stop, _ = stopper._evaluate_stopping_criteria(torch.tensor(accuracy))
        assert not should_stop and stopper.best_score > best
        best = stopper.best_score


def _graph_without_edges(names: list[str]) -> AttributeGraph:
    dag = nx.DiGraph()
    dag.add_nodes_from(names)
    return AttributeGraph(["z0"], names, set(), dag, {a: frozenset() for a in names}, "footprint")


SET_SUMMARY = {"target": "amp", "oracle_for": {"amp": "amp"}, "features_for_target": ["length", "net_charge"]}


def test_an_empty_blanket_is_said_and_uses_no_features_by_default():
    report = blanket_report(_graph_without_edges(["length", "net_charge", "amp"]), SET_SUMMARY, "skip")
    assert report["empty"] and report["blanket"] == report["features"] == [] and report["fallback"] is None
    assert "no attribute is in the Markov blanket of 'amp'" in report["reason"]


def test_an_empty_blanket_falls_back_to_all_features_when_asked():
    report = blanket_report(_graph_without_edges(["length", "net_charge", "amp"]), SET_SUMMARY, "all")
    assert report["empty"] and report["blanket"] == [] and report["fallback"] == "all"
    assert report["features"] == ["length", "net_charge"]
    assert "no attribute is in the Markov blanket of 'amp'" in report["reason"]


def test_an_empty_blanket_fails_the_run_when_asked():
    with pytest.raises(ConfigValueError) as info:
        blanket_report(_graph_without_edges(["length", "net_charge", "amp"]), SET_SUMMARY, "fail")
    assert info.value.key == "graph.empty_blanket" and "set graph.empty_blanket=skip" in str(info.value)


def test_a_blanket_never_falls_back():
    dag = nx.DiGraph([("length", "amp")])
    dag.add_node("net_charge")
    graph = AttributeGraph(
        ["z0", "z1"],
        ["length", "net_charge", "amp"],
        {("z0", "length"), ("z0", "amp"), ("z1", "amp")},
        dag,
        {"length": frozenset({"z0"}), "amp": frozenset({"z0", "z1"}), "net_charge": frozenset()},
        "footprint",
    )
    report = blanket_report(graph, SET_SUMMARY, "fail")
    assert report["blanket"] == report["features"] == ["length"] and report["fallback"] is None


def test_progress_bar_is_not_drawn_into_logs(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="latentgraph.perturbation.engine"):
        run_perturbation(ToyAutoencoder(), ToyAttributes(), base="prior", n_base=4, deltas=[1.0], n_permutations=99)
    captured = capsys.readouterr()
    assert "━" not in captured.out + captured.err  # pytest captures: not a terminal
    assert any("perturbation: decode + score: " in r.getMessage() for r in caplog.records)  # a plain line instead
    run_perturbation(
        ToyAutoencoder(), ToyAttributes(), base="prior", n_base=4, deltas=[1.0], n_permutations=99, bars=True
    )
    assert "perturbation" in capsys.readouterr().out  # asked for, it is drawn
