"""``PerturbationCallback``: the perturbation experiment when an autoencoder fit ends (docs/method.md §4)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from typing_extensions import override

from latentgraph.perturbation.engine import run_perturbation
from latentgraph.perturbation.protocol import Attributes
from latentgraph.perturbation.result import PerturbationResult

log = logging.getLogger(__name__)


class DistributedShard:
    """A :class:`~latentgraph.perturbation.protocol.Shard` over an initialised ``torch.distributed`` group."""

    def __init__(self, rank: int, world_size: int):
        self.rank, self.world_size = rank, world_size

    def gather(self, obj: Any) -> list[Any] | None:
        gathered: list[Any] | None = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(obj, gathered, dst=0)
        return gathered


class PerturbationCallback(pl.Callback):
    """Run :func:`~latentgraph.perturbation.run_perturbation` on the fitted model.

    Under DDP every rank decodes its share of the perturbed codes and rank zero gathers them
    (:class:`DistributedShard`); a single process does it all. The model is moved to the
    strategy's device (Lightning has torn the fit down by ``on_fit_end``), put in eval mode and
    run under ``torch.inference_mode()``. On rank zero the callback keeps the result in
    :attr:`result`, logs its summary numbers through ``trainer.loggers`` and, if ``out_dir`` is
    given, saves it there; whoever attached the callback takes the result from it.

    Args:
        attributes: the attributes to score decodes with.
        out_dir: where :meth:`PerturbationResult.save` writes, if anywhere.
        sequences: held-out sequences, for ``base="posterior"`` and ``latent_scale="data"``.
        settings: keyword arguments of ``run_perturbation`` (``n_base``, ``deltas``, ``base``,
            ``latent_scale``, ``batch_size``, ``n_permutations``, ``seed``).
    """

    def __init__(
        self,
        *,
        attributes: Attributes,
        out_dir: str | Path | None = None,
        sequences: Sequence[str] | None = None,
        **settings,
    ) -> None:
        self.attributes = attributes
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.sequences = list(sequences) if sequences is not None else None
        self.settings = settings
        self.result: PerturbationResult | None = None

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.interrupted:
            log.warning("perturbation: skipped, the fit was interrupted")
            return
        device = trainer.strategy.root_device
        was_training = pl_module.training
        pl_module.to(device).eval()
        sharded = trainer.world_size > 1 and dist.is_available() and dist.is_initialized()
        shard = DistributedShard(trainer.global_rank, trainer.world_size) if sharded else None
        if not sharded and not trainer.is_global_zero:
            return
        log.info(
            "perturbation: %s on %s%s",
            ", ".join(f"{k}={v}" for k, v in self.settings.items()),
            device,
            f", sharded over {trainer.world_size} processes" if sharded else "",
        )
        try:
            with torch.inference_mode():
                result = run_perturbation(
                    pl_module,
                    self.attributes,
                    sequences=self.sequences,
                    shard=shard,
                    bars=trainer.progress_bar_callback is not None,  # the fit's bar, or its log lines
                    **self.settings,
                )
        finally:
            pl_module.train(was_training)
        if result is None:  # another rank than zero: its share went to rank zero
            return
        result = result.cloned()
        if self.out_dir is not None:
            result.save(self.out_dir)
        self.result = result
        metrics = {
            "perturbation/seconds": result.info["seconds"],
            "perturbation/decodes_per_second": result.info["decodes"] / max(result.info["seconds"], 1e-9),
            "perturbation/unscorable_decodes": result.info["unscorable_decodes"],
            "perturbation/mean_change_rate": float(result.change_rate.mean()),
        }
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
