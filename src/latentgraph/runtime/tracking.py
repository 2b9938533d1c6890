"""Run tracking: a CSV logger always, W&B offline by default, and the fit's callbacks.

Every stage logs through one :class:`RunLog` over the run's Lightning loggers (the same logger
objects the autoencoder's ``Trainer`` uses), so there is one path to W&B: images, tables and
summary keys go through ``WandbLogger``, never through the global ``wandb.run``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint, ModelSummary, RichProgressBar
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger

from latentgraph.config.choices import with_plain_strings
from latentgraph.config.schema import Config
from latentgraph.errors import ConfigValueError
from latentgraph.progress import show_bars
from latentgraph.run_layout import CheckpointFiles, RunLayout
from latentgraph.seeding import StepSeeding

log = logging.getLogger(__name__)

JOB_TYPES = {"all": "pipeline", "graph": "graph", "consensus": "consensus"}  # W&B job_type per CLI stage


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


def define_epoch_metrics(run) -> None:
    """Chart the validation metrics (one value per validation epoch) against the epoch; Lightning's
    own ``define_metric`` charts everything else against the step. W&B takes suffix globs only."""
    run.define_metric("epoch")
    run.define_metric("val/*", step_metric="epoch")


def run_name(run_dir: Path) -> str:
    """A W&B run's name: the job's command-line overrides (``graph.alpha=0.01 seed=2``), else the directory's."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(("hydra.", "paths."))]
    except ValueError:  # not inside a Hydra app
        overrides = []
    return " ".join(overrides)[:128] or run_dir.name


def log_input_quality(run_log: RunLog, data_summary: dict, classifiers: dict) -> None:
    """The data's counts and each trained classifier's AUROCs as W&B summary keys (``data/…``, ``classifiers/…``)."""
    values: dict[str, object] = {f"data/id/{k}": v for k, v in data_summary.get("id", {}).items() if k != "name"}
    values |= {f"data/corpus/{k}": v for k, v in data_summary.get("corpus", {}).items()}
    for name, counts in data_summary.get("ood", {}).items():
        values |= {f"data/ood/{name}/{k}": v for k, v in counts.items()}
    values["data/dropped"] = data_summary.get("dropped", {}).get("total")
    for name, report in classifiers.items():
        values[f"classifiers/{name}/test_auroc"] = report.get("test_auroc")
        values |= {f"classifiers/{name}/ood_auroc/{ood}": v for ood, v in report.get("ood_auroc", {}).items()}
    run_log.summary({k: v for k, v in values.items() if v is not None})


def build_loggers(settings: Config, run_dir: Path, wandb_id: str | None = None) -> list[Logger]:
    """The run's loggers: CSV under ``run_dir/<logger.csv.name>``, and W&B unless disabled (``wandb_id``:
    go on in that W&B run, as ``resume=true`` does in the interrupted run's)."""
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name=settings.logger.csv.name, version="")]
    log.info("Instantiating logger <%s> -> %s", CSVLogger.__name__, run_dir / settings.logger.csv.name)
    wandb_cfg = settings.logger.wandb
    if wandb_cfg.enabled:
        os.environ.setdefault("WANDB_SILENT", "true")
        mode = wandb_cfg.mode or ("offline" if wandb_cfg.offline else "online")
        logger = WandbLogger(
            save_dir=str(run_dir),
            project=wandb_cfg.project,
            entity=wandb_cfg.entity,
            offline=mode == "offline",
            group=wandb_cfg.group or sweep_group(),
            job_type=wandb_cfg.job_type or JOB_TYPES[settings.stage],
            tags=list(wandb_cfg.tags),
            mode=mode,
            name=run_name(run_dir),
            **({"id": wandb_id, "resume": "allow"} if wandb_id else {}),
        )
        if wandb_id:
            log.info("W&B: resuming run %s, the interrupted fit's", wandb_id)
        # Lightning passes anonymous=None, which wandb (>= 0.19) answers with a deprecation line on every run
        logger._wandb_init.pop("anonymous", None)
        logger.log_hyperparams(with_plain_strings(asdict(settings)))
        define_epoch_metrics(logger.experiment)
        log.info("Instantiating logger <%s> (mode=%s)", WandbLogger.__name__, mode)
        loggers.append(logger)
    for logger in instantiate_extra("logger.extra", settings.logger.extra, Logger):
        log.info("Instantiating logger <%s>", type(logger).__name__)
        loggers.append(logger)
    return loggers


class RunLog:
    """What the stages log, sent to every logger of the run: metrics to all, pictures and tables to W&B."""

    def __init__(self, loggers: list[Logger]):
        self.loggers = list(loggers)
        self.step = 0  # the fit's last step once it ran: later stages log there, after the training curves

    def metrics(self, values: dict[str, float], step: int | None = None) -> None:
        for logger in self.loggers:
            logger.log_metrics(values, step=self.step if step is None else step)

    def _wandb(self) -> list[WandbLogger]:
        return [logger for logger in self.loggers if isinstance(logger, WandbLogger)]

    def image(self, key: str, path: Path) -> None:
        for logger in self._wandb():
            logger.log_image(key, images=[str(path)], step=self.step)

    def table(self, key: str, frame: pd.DataFrame) -> None:
        for logger in self._wandb():
            logger.log_table(key, dataframe=frame, step=self.step)

    def summary(self, values: dict[str, object]) -> None:
        for logger in self._wandb():
            for key, value in values.items():
                logger.experiment.summary[key] = value

    def artifact(
        self,
        name: str,
        kind: str,
        paths: list[Path],
        built_from: list[str] = (),
        pins: dict[str, str] | None = None,
        role: str = "latest",
    ) -> str | None:
        """Log ``paths`` (files or directories) as W&B Artifact ``name`` of type ``kind``; its content alias.

        Every artifact carries the alias ``content-<digest>`` of its files (W&B's manifest digest),
        which names exactly one version, offline as online; a ``model`` also ``role``: ``latest``,
        or ``best`` for its best checkpoint (Lightning's names for a checkpoint's versions). ``built_from``
        goes into its metadata, and ``built_from_versions`` pins each input whose alias ``pins``
        knows (``name:content-<digest>``). An online run declares those inputs as used (W&B lineage)
        by the pinned version, or the newest where unpinned; offline W&B refuses ``use_artifact``,
        so there the pinned metadata is the lineage, and ``wandb sync`` keeps it.
        """
        pins = pins or {}
        alias = None
        for logger in self._wandb():
            import wandb

            versions = [f"{source}:{pins[source]}" for source in built_from if source in pins]
            metadata = {"built_from": list(built_from), "built_from_versions": versions}
            artifact = wandb.Artifact(name, type=kind, metadata=metadata)
            for path in paths:
                if path.is_dir():
                    artifact.add_dir(str(path), name=path.name)
                elif path.is_file():
                    artifact.add_file(str(path), name=path.name)
            alias = f"content-{artifact.digest[:16]}"
            run = logger.experiment
            if not run.offline:
                for source in built_from:
                    try:
                        run.use_artifact(f"{source}:{pins.get(source, 'latest')}")
                    except Exception as error:  # noqa: BLE001 - an input never synced is not this run's fault
                        log.info("W&B: input artifact %s not found online (%s); kept in the metadata", source, error)
            # a checkpoint's versions: "latest" and "best", as a checkpoint's users expect
            run.log_artifact(artifact, aliases=[alias, role] if kind == "model" else [alias])
        return alias

    def save(self) -> None:
        for logger in self.loggers:
            logger.save()


class ParameterSummary(ModelSummary):
    """Lightning's model summary as a rich table, without its FLOPs column.

    Lightning counts FLOPs only for an ``example_input_array``; for these models the column and
    its total are all zeros, which reads as a fault.
    """

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int] | None = None,  # not passed by Lightning 2.4
        total_flops: int = 0,  # not passed by Lightning 2.4
        **_: object,
    ) -> None:
        from rich.console import Console
        from rich.table import Table

        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style="bold magenta")
        for name, _values in columns:
            table.add_column(name, justify="right" if name == "Params" else "left", no_wrap=True)
        for row in zip(*(values for _, values in columns)):
            table.add_row(*row)
        console = Console()
        console.print(table)
        modes = total_training_modes or {}
        console.print(
            f"trainable parameters {trainable_parameters:,} of {total_parameters:,} ({model_size:.2f} MB)"
            + (f"; modules in train mode {modes['train']}, in eval mode {modes['eval']}" if modes else "")
        )


def build_callbacks(settings: Config, run_dir: Path) -> list[Callback]:
    """Checkpoints (best and last), per-step seeding, early stopping if enabled, the progress bar."""
    checkpoint_dir = str(RunLayout(run_dir).checkpoints.path)
    ckpt = settings.callbacks.checkpoint
    # every file is written whole or not at all: the Trainer's AtomicCheckpointIO (latentgraph.checkpoint_io)
    callbacks: list[Callback] = [
        # the best model by the monitored metric, checked after each validation
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename=CheckpointFiles.best_template,
            monitor=ckpt.monitor,
            mode=str(ckpt.mode),
            save_top_k=ckpt.save_top_k,
            auto_insert_metric_name=False,
        ),
        # last.ckpt, refreshed every few steps so a killed fit loses little
        ModelCheckpoint(
            dirpath=checkpoint_dir, save_last=True, save_top_k=0, every_n_train_steps=ckpt.every_n_train_steps
        ),
    ]
    callbacks.append(StepSeeding(settings.seed))  # exact resumes: each step's draws depend on (seed, step, rank)
    early = settings.callbacks.early_stopping
    if early.enabled:
        callbacks.append(EarlyStopping(monitor=early.monitor, patience=early.patience, mode=str(early.mode)))
    if not fit_bars(settings):  # a batch log: a plain line per epoch instead of a bar
        callbacks.append(EpochLines())
    elif settings.callbacks.rich_progress_bar:
        callbacks.append(RichProgressBar())
    if settings.trainer.enable_model_summary:
        callbacks.append(ParameterSummary())
    callbacks += instantiate_extra("callbacks.extra", settings.callbacks.extra, Callback)
    for callback in callbacks:
        log.info("Instantiating callback <%s>", type(callback).__name__)
    return callbacks


def instantiate_extra(key: str, entries: dict[str, Any], kind: type) -> list:
    """Build each ``_target_`` entry under ``key`` with Hydra's ``instantiate``; an entry that cannot
    be built, or is not a ``kind``, is a :class:`ConfigValueError` naming its key and the cause."""
    built = []
    for name, entry in entries.items():
        try:
            obj = hydra.utils.instantiate(entry)
        except Exception as error:  # noqa: BLE001 - an import or argument error in the user's entry
            cause = error.__cause__ or error
            raise ConfigValueError(f"{key}.{name}", entry.get("_target_"), f"cannot be built ({cause})") from None
        if not isinstance(obj, kind):
            raise ConfigValueError(f"{key}.{name}", entry.get("_target_"), f"is not a Lightning {kind.__name__}")
        built.append(obj)
    return built


def fit_bars(settings: Config) -> bool:
    """Whether a fit draws a bar (``latentgraph.progress.show_bars``): wanted and on a terminal."""
    return show_bars(settings.trainer.enable_progress_bar)


class EpochLines(Callback):
    """One plain log line per training epoch, for logs that are not a terminal (SLURM, nohup, CI).

    ``wae: epoch 12/60, train/loss 0.812, val/recon 0.655, val/token_acc 0.701, 4.1 s/epoch, about
    197 s left``; the validation metrics appear on the epochs that ran validation.
    """

    def __init__(self, what: str = "wae") -> None:
        self.what = what
        self.started: float | None = None
        self.validated = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started, self.first_epoch = time.perf_counter(), trainer.current_epoch

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.validated = not trainer.sanity_checking

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or self.started is None:
            return
        epoch, total = trainer.current_epoch + 1, trainer.max_epochs
        per_epoch = (time.perf_counter() - self.started) / max(1, epoch - self.first_epoch)
        means = pl_module.epoch_means() if hasattr(pl_module, "epoch_means") else {}
        shown = {f"train/{name}": value for name, value in means.items()}  # this epoch's means
        if self.validated:
            metrics = trainer.callback_metrics
            shown |= {name: float(metrics[name]) for name in sorted(metrics) if name.startswith("val/")}
        values = ", ".join(f"{name} {value:.3f}" for name, value in shown.items())
        left = f", about {per_epoch * (total - epoch):.0f} s left" if total and total > 0 else ""
        log.info("%s: epoch %d/%s, %s, %.1f s/epoch%s", self.what, epoch, total, values, per_epoch, left)
        self.validated = False


def finish_wandb(exit_code: int = 0) -> None:
    """Close the W&B run so multirun jobs never share one (called in a ``finally``); a failed run
    says so with a non-zero ``exit_code`` (W&B shows it failed, not finished)."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency
        return
    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)
