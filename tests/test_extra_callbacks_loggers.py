"""Your own Lightning callbacks and loggers from config (callbacks.extra, logger.extra), built the Hydra way."""

from __future__ import annotations

import pytest
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.loggers import CSVLogger
from test_config import validated

from latentgraph.errors import ConfigValueError
from latentgraph.runtime.cache.keys import wae_key
from latentgraph.runtime.tracking import build_callbacks, build_loggers


def test_extra_callbacks_and_loggers_join_the_fit(tmp_path):
    settings = validated(
        "logger.wandb.enabled=false",
        "+callbacks.extra.lr._target_=pytorch_lightning.callbacks.LearningRateMonitor",
        "+callbacks.extra.lr.logging_interval=step",
        "+logger.extra.second_csv._target_=pytorch_lightning.loggers.CSVLogger",
        f"+logger.extra.second_csv.save_dir={tmp_path / 'second'}",
    )
    monitors = [c for c in build_callbacks(settings, tmp_path) if isinstance(c, LearningRateMonitor)]
    assert len(monitors) == 1 and monitors[0].logging_interval == "step"
    loggers = build_loggers(settings, tmp_path)
    assert [type(logger) for logger in loggers] == [CSVLogger, CSVLogger]
    assert loggers[1].save_dir == str(tmp_path / "second")
    assert wae_key(settings) != wae_key(validated())  # a callback can change the weights: another fit


def test_a_bad_extra_entry_is_named_by_its_key(tmp_path):
    with pytest.raises(ConfigValueError, match=r"callbacks\.extra\.x\._target_=None: must name a class"):
        validated("+callbacks.extra.x.patience=3")
    missing = validated("+callbacks.extra.x._target_=nowhere.Callback")
    with pytest.raises(ConfigValueError, match=r"callbacks\.extra\.x='nowhere\.Callback': cannot be built"):
        build_callbacks(missing, tmp_path)
    not_a_logger = validated("logger.wandb.enabled=false", "+logger.extra.d._target_=collections.OrderedDict")
    with pytest.raises(
        ConfigValueError, match=r"logger\.extra\.d='collections\.OrderedDict': is not a Lightning Logger"
    ):
        build_loggers(not_a_logger, tmp_path)
    assert wae_key(validated()) == wae_key(validated("callbacks.extra={}"))  # none: the keys of before hold
