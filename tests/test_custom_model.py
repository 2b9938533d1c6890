"""model=custom: the user's own autoencoder from config, checked by check_autoencoder, run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import QUIET_SMOKE, run_cli
from toy_models import ToyAutoencoder

from latentgraph.errors import ConfigValueError
from latentgraph.perturbation import AutoencoderCheckError, check_autoencoder

TESTS = Path(__file__).resolve().parent


class NoDecode:
    latent_dim = 3

    def sample_prior(self, n, generator=None):
        return torch.zeros(n, 3)

    def encode(self, sequences):
        return torch.zeros(len(sequences), 3)


class Flaky(ToyAutoencoder):
    """Decodes at random: the engine's results would not repeat."""

    def decode(self, z):
        return ["".join("KE"[int(b)] for b in torch.randint(0, 2, (8,))) for _ in range(len(z))]


class WrongWidth(ToyAutoencoder):
    def encode(self, sequences):
        return torch.zeros(len(sequences), self.latent_dim + 1)


def test_a_working_autoencoder_passes_and_each_fault_is_named():
    check_autoencoder(ToyAutoencoder())
    with pytest.raises(AutoencoderCheckError, match=r"lacks the method decode\(\)"):
        check_autoencoder(NoDecode())
    with pytest.raises(AutoencoderCheckError, match="latent_dim must be a positive int, not None"):
        check_autoencoder(object())
    with pytest.raises(AutoencoderCheckError, match="decode is not deterministic"):
        check_autoencoder(Flaky())
    with pytest.raises(AutoencoderCheckError, match=r"encode returned shape \(4, 7\); expected \(4, 6\)"):
        check_autoencoder(WrongWidth())


def test_model_custom_without_or_with_a_bad_target_is_named_when_composed():
    from test_config import validated

    with pytest.raises(ConfigValueError, match=r"model\._target_=None: model=custom builds your autoencoder"):
        validated("model=custom")
    with pytest.raises(ConfigValueError, match=r"model\._target_='x\.Y': names your own autoencoder: use it with"):
        validated("model._target_=x.Y")
    assert validated("model=custom", "model._target_=toy_models.ToyAutoencoder").model.source == "custom"


def test_model_custom_runs_the_pipeline_to_its_report(tmp_path):
    """A small autoencoder in its own module outside the package (tests/toy_models.py), from the command line."""
    run_dir = tmp_path / "run"
    env = {"PYTHONPATH": str(TESTS)}
    custom = ["model=custom", "model._target_=toy_models.ToyAutoencoder"]
    result = run_cli(*QUIET_SMOKE, *custom, f"hydra.run.dir={run_dir}", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (run_dir / "report.html").read_text()
    assert 'id="answer"' in report and "blanket of amp:" in report and "target oracle macrel_amp" in report
    assert "Your own autoencoder, <code>toy_models.ToyAutoencoder</code>" in report
    assert "stage wae: your model toy_models.ToyAutoencoder, not fitted" in (run_dir / "latentgraph.log").read_text()
    assert (run_dir / "perturbation" / "result.npz").is_file() and (run_dir / "results" / "comparisons.csv").is_file()

    lacking = run_cli(*QUIET_SMOKE, "model=custom", "model._target_=test_custom_model.NoDecode", cwd=tmp_path, env=env)
    assert lacking.returncode == 2
    assert "model._target_='test_custom_model.NoDecode': is not an Autoencoder: lacks the method decode()" in (
        lacking.stderr
    )
    refused = run_cli(*QUIET_SMOKE, *custom, "+model.args.depth=3", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "model.args={'depth': 3}: toy_models.ToyAutoencoder refused them" in (
        refused.stderr
    )


def test_a_model_target_that_cannot_be_imported_is_named():
    from test_config import validated

    from latentgraph.pipeline.shipped import build_custom_model

    with pytest.raises(ConfigValueError, match=r"model\._target_='nowhere\.Model': its module 'nowhere' cannot be"):
        build_custom_model(validated("model=custom", "model._target_=nowhere.Model"))
    with pytest.raises(ConfigValueError, match=r"ensemble\.size=3: your own autoencoder is one model"):
        build_custom_model(validated("model=custom", "model._target_=toy_models.ToyAutoencoder", "ensemble.size=3"))
