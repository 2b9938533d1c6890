"""The autoencoder stage: prepare data, fit the WAE, write checkpoints and metrics."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from latentgraph.artifacts import write_json
from latentgraph.cli.tracking import build_callbacks, build_loggers
from latentgraph.config import ConfigValueError
from latentgraph.data import PeptideDataModule, PreparedData, prepare_data, write_data_report
from latentgraph.data.alphabet import VOCAB_SIZE
from latentgraph.models.wae import SequenceWAE

log = logging.getLogger(__name__)

WAE_QUALITY_KEYS = ("val/recon", "val/token_acc", "val/exact_match", "val/prior_valid", "val/prior_unique")


def print_data_summary(data: PreparedData, console: Console | None = None) -> None:
    """A rich table of what was read, kept and dropped."""
    table = Table(title="data", show_lines=False)
    for column in ("source", "read", "duplicates", "label conflicts", "kept"):
        table.add_column(column, justify="right" if column != "source" else "left")
    for name, row in data.summary["sources"].items():
        table.add_row(name, str(row["read"]), str(row["duplicates_removed"]),
                      str(row["conflicting_sequences_removed"]), str(row["kept"]))
    (console or Console()).print(table)
    s = data.summary
    log.info("ID %s: train %d / val %d / test %d; OOD: %s; autoencoder corpus: train %d / val %d",
             s["id"]["name"], s["id"]["train"], s["id"]["val"], s["id"]["test"],
             ", ".join(f"{k} {v['n']}" for k, v in s["ood"].items()) or "none", s["corpus"]["train"], s["corpus"]["val"])
    if data.drop_log.total:
        log.warning("dropped %d bad records (%s); see data/dropped.csv", data.drop_log.total,
                    "; ".join(f"{src}: {reasons}" for src, reasons in data.drop_log.summary().items()))


def model_kwargs(model_cfg: DictConfig) -> dict:
    kwargs = OmegaConf.to_container(model_cfg, resolve=True)
    kwargs.pop("name")
    for key in ("regularizer", "decode"):  # enums -> plain strings (primitive hparams)
        kwargs[key] = str(getattr(kwargs[key], "value", kwargs[key]))
    return kwargs


def check_resume_checkpoint(path: str, kwargs: dict) -> None:
    """Refuse a ``ckpt_path`` that cannot be read or was trained with other model settings.

    Lightning would fail deep inside ``load_state_dict`` with a tensor-size message; this names
    the setting and both values instead. Loading uses ``weights_only`` (no pickled code runs).
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        saved = checkpoint["hyper_parameters"]
    except Exception as error:  # a truncated, corrupt or foreign file
        raise ConfigValueError("ckpt_path", path, f"cannot be read as a latentgraph WAE checkpoint ({error})") from None
    different = [f"model.{key}={saved[key]!r} in the checkpoint, {value!r} in this run"
                 for key, value in kwargs.items() if key in saved and saved[key] != value]
    embedding = checkpoint.get("state_dict", {}).get("embedding.weight")
    if embedding is not None and embedding.shape[0] != VOCAB_SIZE:
        different.append(f"the alphabet: {embedding.shape[0]} tokens in the checkpoint, {VOCAB_SIZE} in this run")
    if different:
        raise ConfigValueError("ckpt_path", path, "was trained with other model settings: " + "; ".join(different))


def prepare_run_data(cfg: DictConfig, run_dir: Path) -> PreparedData:
    """Read and split the configured sources; write and print the data report."""
    data = prepare_data(**OmegaConf.to_container(cfg.data, resolve=True))
    write_data_report(data, run_dir)
    print_data_summary(data)
    return data


def train_autoencoder(cfg: DictConfig, run_dir: Path, data: PreparedData, extra_callbacks: list[pl.Callback] = (),
                      ckpt_path: str | None = None) -> tuple[dict[str, float], SequenceWAE, pl.Trainer]:
    """Fit the WAE on the corpus (continuing from ``ckpt_path`` if given); return its final
    validation quality metrics, the model (in eval mode) and the trainer.

    The stage seeds itself (seed 0 is a seed like any other), so its result does not depend on
    whether an earlier stage trained or came from the cache.
    """
    pl.seed_everything(cfg.seed, workers=True)

    datamodule = PeptideDataModule(prepared=data, seed=cfg.seed, **OmegaConf.to_container(cfg.data, resolve=True))
    log.info("Instantiating model <%s>", SequenceWAE.__name__)
    kwargs = model_kwargs(cfg.model)
    if ckpt_path is not None:
        check_resume_checkpoint(ckpt_path, kwargs)
    model = SequenceWAE(**kwargs)
    loggers = build_loggers(cfg, run_dir)
    callbacks = build_callbacks(cfg, run_dir) + list(extra_callbacks)
    log.info("Instantiating trainer <%s>", cfg.trainer._target_)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers, callbacks=callbacks,
                                                  default_root_dir=str(run_dir))
    with warnings.catch_warnings():
        # Lightning warns that a mid-epoch resume replays the epoch from a fresh shuffle; this
        # datamodule's order depends on (seed, epoch) only and skips the batches already trained
        warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)

    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k in WAE_QUALITY_KEYS}
    metrics["global_step"] = trainer.global_step
    metrics["epochs"] = trainer.current_epoch
    if trainer.is_global_zero:
        write_json(run_dir / "metrics" / "wae.json", metrics)
    log.info("WAE quality: %s", ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return metrics, model.eval(), trainer
