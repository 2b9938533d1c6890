"""Structured-config schemas for every config group (the Hydra structured-config pattern).

Every default is written here once: the yaml files under ``conf/`` hold only presets, what each
option changes, and the library's keyword defaults read these classes. A wrong type or an unknown
key fails when Hydra composes the config; the range checks in each ``__post_init__`` run in
:func:`latentgraph.config.validate_config`, which names the full key of every bad value.
One module per part of the run: :mod:`.data`, :mod:`.model`, :mod:`.attributes` (and the planted
control), :mod:`.analysis` (perturbation, graph, predictors, ensemble), :mod:`.run` (trainer,
loggers, callbacks, paths) and :mod:`.root` (``Config``, the rules across groups).
"""

from latentgraph.config.schema.analysis import (
    DELTAS,
    EnsembleConfig,
    GraphConfig,
    PerturbationConfig,
    PredictorConfig,
)
from latentgraph.config.schema.attributes import (
    AttributesConfig,
    ClassifierSpec,
    ClassifierTrainingConfig,
    ControlConfig,
    OracleSpec,
)
from latentgraph.config.schema.data import DataConfig
from latentgraph.config.schema.model import ModelConfig
from latentgraph.config.schema.root import Config
from latentgraph.config.schema.run import (
    CallbacksConfig,
    CheckpointConfig,
    CsvLoggerConfig,
    EarlyStoppingConfig,
    LoggerConfig,
    PathsConfig,
    TrainerConfig,
    WandbLoggerConfig,
)

__all__ = [
    "DELTAS",
    "AttributesConfig",
    "CallbacksConfig",
    "CheckpointConfig",
    "ClassifierSpec",
    "ClassifierTrainingConfig",
    "Config",
    "ControlConfig",
    "CsvLoggerConfig",
    "DataConfig",
    "EarlyStoppingConfig",
    "EnsembleConfig",
    "GraphConfig",
    "LoggerConfig",
    "ModelConfig",
    "OracleSpec",
    "PathsConfig",
    "PerturbationConfig",
    "PredictorConfig",
    "TrainerConfig",
    "WandbLoggerConfig",
]
