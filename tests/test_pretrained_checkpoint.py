"""``model=pretrained model.checkpoint=PATH``: a latentgraph WAE checkpoint is the run's autoencoder,
nothing is fitted, every later stage runs as on a fit, and a bad file is named before any work."""

from __future__ import annotations

import filecmp
import json

import pytest
import torch
from conftest import FAST, run_cli, settings_for

from latentgraph.errors import ConfigValueError
from latentgraph.models.wae import SequenceWAE
from latentgraph.pipeline.autoencoder import model_kwargs
from latentgraph.pipeline.shipped import load_checkpoint


def smoke_checkpoint(path, **changed) -> str:
    settings = settings_for("experiment=smoke")
    model = SequenceWAE(**model_kwargs(settings.model, settings.data.alphabet))
    torch.save({"hyper_parameters": {**dict(model.hparams), **changed}, "state_dict": model.state_dict()}, path)
    return str(path)


def test_a_run_on_another_runs_checkpoint_gives_the_same_effects_blanket_and_comparisons(tmp_path):
    fitted, loaded = tmp_path / "fitted", tmp_path / "loaded"
    smoke = ["experiment=smoke", "graph.empty_blanket=all", *FAST]
    first = run_cli(*smoke, f"paths.run_dir={fitted}", cwd=tmp_path)
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    checkpoint = fitted / "checkpoints" / "last.ckpt"
    second = run_cli(
        *smoke, "model=pretrained", f"model.checkpoint={checkpoint}", f"paths.run_dir={loaded}", cwd=tmp_path
    )
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert "stage wae: computing" not in output and f"stage wae: loaded from {checkpoint}" in output
    for name in ("perturbation/result.npz", "graph/blanket.json", "results/comparisons.csv"):
        assert filecmp.cmp(fitted / name, loaded / name, shallow=False), name
    provenance = json.loads((loaded / "metrics" / "wae_provenance.json").read_text())
    assert provenance["checkpoint"] == str(checkpoint) and len(provenance["sha256"]) == 64
    assert f"Pre-trained, loaded from <code>{checkpoint}</code>" in (loaded / "report.html").read_text()


@pytest.mark.parametrize(
    ("make", "overrides", "named"),
    [
        (lambda tmp: str(tmp / "missing.ckpt"), [], "no such checkpoint file"),
        (
            lambda tmp: (tmp / "bad.ckpt").write_bytes(b"not a checkpoint") and str(tmp / "bad.ckpt"),
            [],
            "cannot be read",
        ),
        (lambda tmp: smoke_checkpoint(tmp / "short.ckpt", max_len=20), [], "was trained with max_len=20"),
        (
            lambda tmp: smoke_checkpoint(tmp / "smiles.ckpt", alphabet="smiles"),
            [],
            "trained on another alphabet: data.alphabet='smiles' in the checkpoint, 'peptides' in this run",
        ),
        (lambda tmp: smoke_checkpoint(tmp / "odd.ckpt", latent_dim=3), [], "does not load as this latentgraph's WAE"),
        (lambda tmp: smoke_checkpoint(tmp / "ok.ckpt"), ["ensemble.size=2"], "loads one autoencoder"),
    ],
    ids=["missing", "corrupt", "max_len", "alphabet", "weights", "ensemble"],
)
def test_a_bad_checkpoint_is_named_before_any_work(tmp_path, make, overrides, named):
    path = make(tmp_path)
    settings = settings_for("experiment=smoke", "model=pretrained", f"model.checkpoint={path}", *overrides)
    with pytest.raises(ConfigValueError, match=named) as raised:
        load_checkpoint(settings)
    assert raised.value.key in ("model.checkpoint", "ensemble.size")


def test_a_checkpoint_needs_model_pretrained_and_a_missing_one_exits_2(tmp_path):
    done = run_cli(
        "experiment=smoke", "model.checkpoint=/no/such.ckpt", *FAST, f"paths.run_dir={tmp_path / 'r'}", cwd=tmp_path
    )
    assert done.returncode == 2 and "model.checkpoint='/no/such.ckpt': loads a pre-trained WAE" in done.stderr
    pretrained = ["model=pretrained", "model.checkpoint=/no/such.ckpt"]
    done = run_cli("experiment=smoke", *pretrained, *FAST, f"paths.run_dir={tmp_path / 'r'}", cwd=tmp_path)
    assert done.returncode == 2 and "model.checkpoint='/no/such.ckpt': no such checkpoint file" in done.stderr
    assert "stage wae" not in done.stdout + done.stderr
