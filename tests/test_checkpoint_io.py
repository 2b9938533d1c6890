"""Every checkpoint a Trainer writes appears whole or not at all (latentgraph.checkpoint_io).

That the fit's Trainer carries the plugin is checked by the kill test (tests/test_cli.py), which
reads last.ckpt every 50 ms while a fit writes it and never sees half a file."""

from __future__ import annotations

import errno

import pytest
import torch
from pytorch_lightning.plugins import TorchCheckpointIO

from latentgraph.atomic import DiskFullError
from latentgraph.checkpoint_io import AtomicCheckpointIO


def test_a_checkpoint_is_written_whole_and_a_failed_write_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}, "global_step": 7}, path)
    assert torch.load(path, weights_only=True)["global_step"] == 7

    def half_then_full_disk(self, checkpoint, target, storage_options=None):
        with open(target, "wb") as handle:
            handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", half_then_full_disk)
    with pytest.raises(DiskFullError, match=f"while writing {path}"):
        AtomicCheckpointIO().save_checkpoint({"global_step": 8}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["global_step"] == 7  # the old one, whole
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left
