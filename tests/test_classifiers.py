"""Trained attribute classifiers: quality, caching by settings, input validation."""

from __future__ import annotations

import os

import pytest
import torch

from latentgraph.attributes.training import ClassifierRecipe, classifier_auroc
from latentgraph.config.schema import ClassifierTrainingConfig
from latentgraph.data import prepare_data
from latentgraph.data.records import DataError
from latentgraph.pipeline.oracles import train_or_load_classifier
from latentgraph.runtime.cache.store import LockTimeoutError, held_lock, stage_key

DEFAULTS = ClassifierTrainingConfig()
MODEL_KWARGS = dict(
    embedding_dim=DEFAULTS.embedding_dim,
    channels=DEFAULTS.channels,
    kernel_sizes=DEFAULTS.kernel_sizes,
    dropout=DEFAULTS.dropout,
    lr=DEFAULTS.lr,
)


@pytest.fixture(scope="module")
def amp_data():
    return prepare_data(
        id_source="modlamp:AMPvsUniProt",
        ood_sources=["modlamp:AMPvsTM"],
        corpus_sources=[],
        target="amp",
        max_len=50,
        bad_records="drop",
        val_fraction=0.1,
        test_fraction=0.2,
        split_seed=0,
        corpus_val_fraction=0.1,
    )


def train(data, cache_dir, epochs=DEFAULTS.epochs, seed=0, lock_timeout_s=None):
    recipe = ClassifierRecipe(
        name="amp",
        max_len=50,
        epochs=epochs,
        batch_size=DEFAULTS.batch_size,
        seed=seed,
        model_kwargs=MODEL_KWARGS,
        data={"id": "test"},
    )
    return train_or_load_classifier(recipe, data.id_train, data.id_val, cache_dir, lock_timeout_s)


def test_amp_classifier_quality_and_cache_reuse(amp_data, tmp_path):
    first = train(amp_data, tmp_path)
    assert not first.reused and first.checkpoint.is_file()
    auroc = classifier_auroc(first.model, amp_data.id_test, "amp")
    assert auroc >= 0.93, auroc  # the bar for the ID test split
    ood = classifier_auroc(first.model, amp_data.ood["AMPvsTM"], "amp")
    assert 0.5 < ood < auroc  # harder out of distribution, still informative

    again = train(amp_data, tmp_path)
    assert again.reused and again.key == first.key
    sequences = list(amp_data.id_test["sequence"][:64])
    assert torch.equal(again.model.predict_proba(sequences), first.model.predict_proba(sequences))

    changed = train(amp_data, tmp_path, epochs=1)
    assert not changed.reused and changed.key != first.key
    assert len(list((tmp_path / "classifiers").glob("*.ckpt"))) == 2
    assert not list((tmp_path / "classifiers").glob(".*.tmp"))  # no half-written checkpoint left


def test_a_classifier_being_trained_by_another_job_is_waited_for_not_trained_twice(amp_data, tmp_path):
    first = train(amp_data, tmp_path, epochs=1)
    first.checkpoint.unlink()  # as if another job were training it now, holding its lock
    with held_lock(first.checkpoint.with_suffix(".lock"), "the other job", None):
        with pytest.raises(
            LockTimeoutError, match=rf"classifier 'amp', key {first.key}: waited 0.3 s .* pid {os.getpid()}"
        ):
            train(amp_data, tmp_path, epochs=1, lock_timeout_s=0.3)
        assert not first.checkpoint.exists()  # it did not train behind the holder's back
    again = train(amp_data, tmp_path, epochs=1, lock_timeout_s=0.3)  # the lock is free: it trains
    assert not again.reused and again.checkpoint.is_file()


def test_predict_proba_rejects_bad_sequences(amp_data, tmp_path):
    model = train(amp_data, tmp_path, epochs=1).model
    with pytest.raises(
        DataError, match=r"sequence 1 \('KLXK'\) cannot be scored by 'amp': non-canonical character 'X'"
    ):
        model.predict_proba(["KLAK", "KLXK"])
    with pytest.raises(DataError, match="empty sequence"):
        model.predict_proba([""])
    probabilities = model.predict_proba(["KLAKLAK", "GIGKFLHSAKKFGKAFVGEIMNS"])
    assert probabilities.shape == (2,) and torch.isfinite(probabilities).all()
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_cache_key_follows_the_data_the_classifier_trains_on():
    from conftest import settings_for

    from latentgraph.pipeline.oracles import training_data_settings

    def key(*overrides, name="amp"):
        cfg = settings_for("attributes=trained", *overrides)
        return stage_key(training_data_settings(cfg, name, cfg.attributes.classifiers[name]))

    base = key()
    # the run's OOD sets shape the ID split the amp classifier trains on
    assert key("data.ood_sources=[]") != base
    assert key("data.split_seed=1") != base and key("data.max_len=40") != base
    # scoring-only and unrelated settings keep the cached weights
    assert key("attributes.classifiers.amp.ood_sources=[]") == base
    assert key("model.latent_dim=16") == base and key("graph.alpha=0.01") == base
    # acp trains on its own source, whatever the run's OOD sets are
    assert key("data.ood_sources=[]", name="acp") == key(name="acp")


def test_the_classifier_seed_is_the_runs_unless_fixed():
    from conftest import settings_for

    from latentgraph.config import ConfigValueError
    from latentgraph.pipeline.oracles import classifier_seed

    assert classifier_seed(settings_for("seed=5")) == 5
    # two ensembles started at seeds 0 and 5 score their autoencoders with the same oracles
    assert classifier_seed(settings_for("seed=5", "attributes.classifier.seed=0")) == 0
    assert classifier_seed(settings_for("seed=0", "attributes.classifier.seed=0")) == 0
    with pytest.raises(ConfigValueError, match=r"attributes\.classifier\.seed=-1"):
        settings_for("attributes.classifier.seed=-1")


def test_trailing_padding_columns_change_no_logit():
    from latentgraph.attributes.classifier import SequenceClassifier
    from latentgraph.data.alphabet import PAD, tokenize

    torch.manual_seed(0)
    model = SequenceClassifier(**MODEL_KWARGS).eval()
    with torch.no_grad():
        model.embedding.weight.normal_()  # any trained embedding; the pad row stays what training keeps it
        model.embedding.weight[PAD] = 0.0
        tokens = tokenize(["KLAKLAK", "GIGKFLHSAKKFGKAFVGEIMNS", "FLPLIGR"], 50)  # 52 columns, most padding
        assert tokens.shape[1] == 52
        wide = model(tokens)
        exact_width = tokens[:, : 23 + 2]
        assert torch.allclose(model(exact_width), wide, atol=1e-6)
        assert torch.allclose(model(torch.nn.functional.pad(tokens, (0, 30), value=PAD)), wide, atol=1e-6)
        # scored in length-sorted batches (here of 2 rows), each row's probability lands in its place
        mixed = tokenize(["GIGKFLHSAKKFGKAFVGEIMNS", "KLAK", "FLPLIGRKK", "W", "KLAKLAKKLAKLAK"], 50)
        one_by_one = torch.cat([torch.sigmoid(model(row[None])) for row in mixed])
        torch.testing.assert_close(model.proba_from_tokens(mixed, batch_size=2), one_by_one, atol=1e-6, rtol=0)
