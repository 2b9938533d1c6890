"""Loggers and callbacks from config: a CSV logger always, W&B offline by default."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from weakref import proxy

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint, RichProgressBar
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger

from latentgraph.artifacts import atomic_target
from latentgraph.models.step_seeding import StepSeeding

log = logging.getLogger(__name__)

JOB_TYPES = {"all": "pipeline", "graph": "graph"}  # W&B job_type per CLI stage


def sweep_group() -> str | None:
    """The sweep directory's name in a Hydra multirun (the W&B group), else ``None``."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode == RunMode.MULTIRUN:
            return Path(hydra_cfg.sweep.dir).name
    except ValueError:  # not inside a Hydra app (tests, notebooks)
        pass
    return None


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name=cfg.logger.csv.name, version="")]
    log.info("Instantiating logger <%s> -> %s", CSVLogger.__name__, run_dir / cfg.logger.csv.name)
    wandb_cfg = cfg.logger.wandb
    if wandb_cfg.enabled:
        os.environ.setdefault("WANDB_SILENT", "true")
        mode = wandb_cfg.mode or ("offline" if wandb_cfg.offline else "online")
        logger = WandbLogger(
            save_dir=str(run_dir), project=wandb_cfg.project, entity=wandb_cfg.entity, offline=mode == "offline",
            group=wandb_cfg.group or sweep_group(), job_type=wandb_cfg.job_type or JOB_TYPES[cfg.stage], tags=list(wandb_cfg.tags),
            mode=mode, name=run_dir.name,
        )
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        log.info("Instantiating logger <%s> (mode=%s)", WandbLogger.__name__, mode)
        loggers.append(logger)
    return loggers


class AtomicModelCheckpoint(ModelCheckpoint):
    """A ``ModelCheckpoint`` whose files appear whole or not at all.

    Lightning writes ``last.ckpt`` in place; a fit killed during that write would leave a
    truncated file for the resume to trip on. Rank zero writes beside the file and renames it
    into place instead (other DDP ranks only join the save's barrier).
    """

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        if not trainer.is_global_zero:
            super()._save_checkpoint(trainer, filepath)
            return
        with atomic_target(filepath) as tmp:
            trainer.save_checkpoint(tmp, self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        for logger in trainer.loggers:
            logger.after_save_checkpoint(proxy(self))


def build_callbacks(cfg: DictConfig, run_dir: Path) -> list[Callback]:
    checkpoint_dir = str(run_dir / "checkpoints")
    ckpt = cfg.callbacks.checkpoint
    callbacks: list[Callback] = [
        # the best model by the monitored metric, checked after each validation
        AtomicModelCheckpoint(dirpath=checkpoint_dir, filename="best-{epoch:03d}", monitor=ckpt.monitor,
                              mode=ckpt.mode, save_top_k=ckpt.save_top_k, auto_insert_metric_name=False),
        # last.ckpt, refreshed every few steps so a killed fit loses little
        AtomicModelCheckpoint(dirpath=checkpoint_dir, save_last=True, save_top_k=0,
                              every_n_train_steps=ckpt.every_n_train_steps),
    ]
    callbacks.append(StepSeeding(cfg.seed))  # exact resumes: each step's draws depend on (seed, step, rank)
    if cfg.callbacks.early_stopping.enabled:
        es = cfg.callbacks.early_stopping
        callbacks.append(EarlyStopping(monitor=es.monitor, patience=es.patience, mode=ckpt.mode))
    if cfg.callbacks.rich_progress_bar and cfg.trainer.enable_progress_bar:
        callbacks.append(RichProgressBar())
    for callback in callbacks:
        log.info("Instantiating callback <%s>", type(callback).__name__)
    return callbacks


def finish_wandb() -> None:
    """Close the W&B run so multirun jobs never share one (called in a ``finally``)."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency
        return
    if wandb.run is not None:
        wandb.finish()

