"""The outcome of a perturbation experiment, and its files (``perturbation/`` in a run directory)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from latentgraph.atomic import atomic_write_bytes, atomic_write_text, write_json
from latentgraph.run_layout import PerturbationFiles

ARRAYS = (
    "sensitivity",
    "pvalues",
    "qvalues",
    "change_rate",
    "deltas",
    "latent_scale",
    "attribute_spread",
    "base_codes",
    "base_values",
    "effects",
)
# the random-direction null (docs/method.md §5c); absent when run with n_directions=0
NULL_ARRAYS = ("directions", "null_effects", "null_pvalues", "null_qvalues")


@dataclass
class PerturbationResult:
    """Effects of latent perturbations on attributes, and the per-pair test results.

    Shapes: ``d`` latents, ``m`` attributes, ``N`` base codes, ``K`` steps.

    Attributes:
        latent_names, attribute_names: row and column names (``z0 … z{d-1}``; the attributes' names).
        sensitivity: ``[d, m]`` mean ``|Δ|`` over base codes and steps, over the attribute's spread.
        pvalues, qvalues: ``[d, m]`` sign-flip p-values and their Benjamini–Hochberg q-values.
        change_rate: ``[d]`` fraction of perturbed decodes that differ from their base decode.
        deltas: ``[K]`` the steps ``δ_k``; latent ``j`` moves by ``δ_k · latent_scale[j]``.
        latent_scale: ``[d]`` the spread ``s_j`` of each latent (1 when not measured on data).
        attribute_spread: ``[m]`` standard deviation of each attribute over the base decodes.
        base_codes: ``[N, d]``; base_values: ``[N, m]``; effects: ``[N, d, K, m]`` (NaN: not scorable).
        base_sequences: the ``N`` base decodes.
        directions: ``[R, d]`` random unit directions; null_effects: ``[N, R, K, m]``, the
            effects of the same steps along them (length ``δ_k`` times the median latent scale);
            null_pvalues, null_qvalues: ``[d, m]`` tests of "latent j moves attribute a no
            more than a random direction does". ``None`` when the null was not run.
        info: how it was run (seed, base, permutations, counts of unscorable decodes, timings).
    """

    latent_names: list[str]
    attribute_names: list[str]
    sensitivity: torch.Tensor
    pvalues: torch.Tensor
    qvalues: torch.Tensor
    change_rate: torch.Tensor
    deltas: torch.Tensor
    latent_scale: torch.Tensor
    attribute_spread: torch.Tensor
    base_codes: torch.Tensor
    base_values: torch.Tensor
    effects: torch.Tensor
    base_sequences: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    directions: torch.Tensor | None = None
    null_effects: torch.Tensor | None = None
    null_pvalues: torch.Tensor | None = None
    null_qvalues: torch.Tensor | None = None

    @property
    def has_direction_null(self) -> bool:
        return self.null_qvalues is not None

    def _arrays(self) -> dict[str, torch.Tensor]:
        names = ARRAYS + (NULL_ARRAYS if self.has_direction_null else ())
        return {name: getattr(self, name) for name in names}

    def cloned(self) -> PerturbationResult:
        """A copy whose tensors are ordinary ones (results made under ``torch.inference_mode``
        cannot take part in autograd, which an MLP SEM fit needs)."""
        tensors = {name: tensor.clone() for name, tensor in self._arrays().items()}
        return PerturbationResult(
            latent_names=list(self.latent_names),
            attribute_names=list(self.attribute_names),
            base_sequences=list(self.base_sequences),
            info=dict(self.info),
            **tensors,
        )

    def perturbed_codes(self) -> torch.Tensor:
        """``[N, d, K, d]``: the code each effect was measured at (for SEM fits)."""
        n, d = self.base_codes.shape
        step = self.deltas[None, :, None] * self.latent_scale[:, None, None] * torch.eye(d)[:, None, :]  # [d, K, d]
        return self.base_codes[:, None, None, :] + step[None]

    def table(self, name: str) -> pd.DataFrame:
        """A ``[d, m]`` array as a DataFrame with latent rows and attribute columns."""
        return pd.DataFrame(getattr(self, name).numpy(), index=self.latent_names, columns=self.attribute_names)

    def save(self, directory: str | Path) -> Path:
        """Write ``result.npz`` (every array), ``summary.json`` and readable CSVs; each file atomically."""
        files = PerturbationFiles(directory)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{name: tensor.numpy() for name, tensor in self._arrays().items()})
        atomic_write_bytes(files.result, buffer.getvalue())
        write_json(
            files.summary,
            {
                "latent_names": self.latent_names,
                "attribute_names": self.attribute_names,
                "deltas": self.deltas.tolist(),
                "base_sequences": self.base_sequences,
                "info": self.info,
            },
        )
        for name in ("sensitivity", "pvalues", "qvalues") + (("null_qvalues",) if self.has_direction_null else ()):
            atomic_write_text(files.table(name), self.table(name).to_csv())
        change = pd.DataFrame(
            {
                "latent": self.latent_names,
                "change_rate": self.change_rate.numpy(),
                "latent_scale": self.latent_scale.numpy(),
            }
        )
        atomic_write_text(files.change_rate, change.to_csv(index=False))
        return files.path

    @classmethod
    def load(cls, directory: str | Path) -> PerturbationResult:
        """Read a result written by :meth:`save` (``directory`` holds ``result.npz`` and ``summary.json``)."""
        files = PerturbationFiles(directory)
        for path in (files.result, files.summary):
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: not a saved perturbation result")
        summary = json.loads(files.summary.read_text())
        with np.load(files.result) as arrays:
            tensors = {
                name: torch.from_numpy(arrays[name].copy())
                for name in ARRAYS + NULL_ARRAYS
                if name in arrays.files  # a result without the random-direction null has none
            }
        return cls(
            latent_names=summary["latent_names"],
            attribute_names=summary["attribute_names"],
            base_sequences=summary["base_sequences"],
            info=summary["info"],
            **tensors,
        )
