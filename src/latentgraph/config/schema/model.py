"""The ``model`` group's schema: the built-in WAE's settings, or where a pre-trained or custom
autoencoder comes from."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from latentgraph.config.choices import (
    DecodeMode,
    LrSchedule,
    Recurrence,
    Regularizer,
)
from latentgraph.config.validation import check, fraction, positive


@dataclass
class ModelConfig:
    """The autoencoder (docs/method.md §3): the built-in WAE's settings, or where a pre-trained or
    custom one comes from."""

    latent_dim: int = 128
    embedding_dim: int = 64
    encoder_hidden: int = 128
    decoder_hidden: int = 256
    encoder_layers: int = 1
    decoder_layers: int = 1
    word_dropout: float = 0.8  # high on purpose: the decoder must read z, not its own prefix
    regularizer: Regularizer = Regularizer.mmd_rf  # mmd_rf (WAE) or kl (VAE)
    beta: float = 1.0
    beta_start: float = 0.0
    beta_anneal_steps: int = 1000
    rf_features: int = 512
    mmd_sigma: float | None = None  # RBF bandwidth; null = sqrt(latent_dim)
    lr: float = 3e-3
    lr_schedule: LrSchedule = LrSchedule.constant  # constant or cosine (decayed to 0 over the fit's steps)
    max_len: int = 50
    decode: DecodeMode = DecodeMode.greedy  # greedy or sample
    temperature: float = 1.0
    prior_samples: int = 256  # prior draws per validation epoch for the validity and uniqueness metrics
    positional: bool = True  # position embeddings on encoder and decoder inputs (docs/design-choices.md)
    folded_decode: bool = True  # decode with the input projection folded into tables (same logits, faster)
    recurrence: Recurrence = Recurrence.auto  # training GRUs: packed (CPU) or nn (GPU); same function
    # fit: the run fits its WAE; shipped (model=pretrained): the shipped members are the run's fits, nothing is fitted;
    # custom (model=custom): the user's own autoencoder, built from _target_ with args, nothing fitted
    source: str = "fit"
    # model=pretrained model.checkpoint=PATH: this latentgraph WAE checkpoint is the run's autoencoder instead
    checkpoint: str | None = None
    # model=custom model._target_=PKG.MODULE.NAME +model.args.latent_dim=16: a class or factory, called with args
    _target_: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(self.source in ("fit", "shipped", "custom"), "source", self.source, "must be fit, shipped or custom")
        check(
            self.source != "custom" or "." in str(self._target_ or ""),
            "_target_",
            self._target_,
            "model=custom builds your autoencoder from model._target_=PKG.MODULE.NAME (a class or factory)",
        )
        check(
            self._target_ is None or self.source == "custom",
            "_target_",
            self._target_,
            "names your own autoencoder: use it with model=custom",
        )
        check(
            self.checkpoint is None or self.source == "shipped",
            "checkpoint",
            self.checkpoint,
            "loads a pre-trained WAE: use it with model=pretrained",
        )
        positive(
            self,
            "latent_dim",
            "embedding_dim",
            "encoder_hidden",
            "decoder_hidden",
            "encoder_layers",
            "decoder_layers",
            "rf_features",
            "lr",
            "max_len",
            "temperature",
            "prior_samples",
        )
        fraction(self, "word_dropout")
        for name in ("beta", "beta_start"):
            value = getattr(self, name)
            check(value >= 0 and math.isfinite(value), name, value, "must be finite and >= 0")
        check(self.beta_anneal_steps >= 0, "beta_anneal_steps", self.beta_anneal_steps, "must be >= 0")
        check(self.mmd_sigma is None or self.mmd_sigma > 0, "mmd_sigma", self.mmd_sigma, "must be > 0 or null")
        check(
            self.recurrence != Recurrence.packed or self.encoder_layers == 1,
            "recurrence",
            str(self.recurrence),
            f"packed runs a one-layer encoder (encoder_layers={self.encoder_layers}); use auto or nn",
        )
