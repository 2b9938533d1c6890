"""The schemas of the run's machinery: the Lightning ``trainer``, ``logger`` and ``callbacks``, and ``paths``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from latentgraph.config.choices import (
    Mode,
)
from latentgraph.config.validation import check, check_targets, positive


@dataclass
class TrainerConfig:
    """Keyword arguments of ``pytorch_lightning.Trainer``."""

    _target_: str = "pytorch_lightning.Trainer"
    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    use_distributed_sampler: bool = False  # the datamodule shards its own resumable order across ranks
    max_epochs: int = 60
    max_steps: int = -1
    gradient_clip_val: float = 1.0
    log_every_n_steps: int = 10
    check_val_every_n_epoch: int = (
        10  # each validation costs about 1 s of a default fit; the fit's end always validates
    )
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = 1.0
    num_sanity_val_steps: int = 0
    deterministic: bool = False
    precision: Any = 32
    enable_progress_bar: bool = True
    enable_model_summary: bool = True  # the parameter table at the start of a fit

    def __post_init__(self) -> None:
        check(self.max_epochs >= 1 or self.max_steps > 0, "max_epochs", self.max_epochs, "must be >= 1")
        check(self.max_steps == -1 or self.max_steps > 0, "max_steps", self.max_steps, "must be -1 or > 0")
        positive(self, "log_every_n_steps", "check_val_every_n_epoch")
        check(self.gradient_clip_val >= 0, "gradient_clip_val", self.gradient_clip_val, "must be >= 0")
        for name in ("limit_train_batches", "limit_val_batches"):
            value = getattr(self, name)
            check(isinstance(value, (int, float)) and value > 0, name, value, "must be a positive int or fraction")


@dataclass
class CsvLoggerConfig:
    """A CSV logger always; W&B offline by default (``wandb sync <run>/wandb/offline-run-*`` uploads later)."""

    name: str = "csv"


@dataclass
class WandbLoggerConfig:
    enabled: bool = True
    offline: bool = True  # no account needed; `wandb sync` uploads later
    mode: str | None = None  # "disabled" turns W&B into a no-op (tests)
    project: str = "latentgraph"
    entity: str | None = None
    group: str | None = None  # null: the sweep directory in a multirun, else none
    job_type: str | None = None  # null: the CLI stage ("pipeline" for stage=all, "graph" for stage=graph)
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check(
            self.mode in (None, "online", "offline", "disabled"),
            "mode",
            self.mode,
            "must be null, 'online', 'offline' or 'disabled'",
        )


@dataclass
class LoggerConfig:
    csv: CsvLoggerConfig = field(default_factory=CsvLoggerConfig)
    wandb: WandbLoggerConfig = field(default_factory=WandbLoggerConfig)
    # your own Lightning loggers beside those two, built the Hydra way:
    #   +logger.extra.tb._target_=pytorch_lightning.loggers.TensorBoardLogger +logger.extra.tb.save_dir=tb
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_targets("extra", self.extra)


@dataclass
class CheckpointConfig:
    monitor: str = "val/recon"
    mode: Mode = Mode.min
    save_top_k: int = 1
    every_n_train_steps: int = 50  # how often last.ckpt is refreshed, so a killed fit loses little

    def __post_init__(self) -> None:
        check(self.save_top_k >= 1, "save_top_k", self.save_top_k, "must be >= 1")
        positive(self, "every_n_train_steps")


@dataclass
class EarlyStoppingConfig:
    enabled: bool = False
    monitor: str = "val/recon"
    mode: Mode = Mode.min  # "max" for a metric where higher is better (val/token_acc)
    patience: int = 5

    def __post_init__(self) -> None:
        positive(self, "patience")


@dataclass
class CallbacksConfig:
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    rich_progress_bar: bool = True
    # your own Lightning callbacks for the fit, built the Hydra way (lightning-hydra-template's layout):
    #   +callbacks.extra.swa._target_=pytorch_lightning.callbacks.StochasticWeightAveraging
    #   +callbacks.extra.swa.swa_lrs=0.01
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_targets("extra", self.extra)


@dataclass
class PathsConfig:
    run_dir: str = "${hydra:runtime.output_dir}"
    cache_dir: str = "${oc.env:LATENTGRAPH_CACHE,${oc.env:HOME,.}/.cache/latentgraph}"
    # how long a job waits for another job computing the same cache entry before it stops with an
    # error naming the holder's host and pid (null: without a limit)
    lock_timeout_s: float | None = 86_400.0

    def __post_init__(self) -> None:
        check(
            self.lock_timeout_s is None or self.lock_timeout_s > 0,
            "lock_timeout_s",
            self.lock_timeout_s,
            "must be > 0 or null",
        )
