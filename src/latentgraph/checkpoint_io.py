"""Checkpoints that appear whole or not at all, through Lightning's supported hook.

Lightning's ``TorchCheckpointIO`` writes a checkpoint's bytes into the file in place, so a job
killed during the write (or a full disk) leaves a truncated ``last.ckpt`` for a resume to trip
on. :class:`AtomicCheckpointIO` writes beside the file and renames it into place
(:func:`latentgraph.atomic.atomic_target`); every ``Trainer`` of the project is given it, so
each ``trainer.save_checkpoint`` and every ``ModelCheckpoint`` file is atomic.
"""

from __future__ import annotations

from typing import Any

from pytorch_lightning.plugins import TorchCheckpointIO

from latentgraph.atomic import atomic_target


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` writing to a temporary beside the path, renamed into place on success."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        with atomic_target(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)
