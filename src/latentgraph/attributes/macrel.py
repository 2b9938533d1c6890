"""Adapter for the pre-trained AMP and haemolysis models that ship in the ``macrel`` package.

Macrel (Santos-Júnior et al., 2020; MIT licence) ships two ONNX random forests,
``data/models/AMP.onnx.gz`` and ``Hemo.onnx.gz``, over 22 per-sequence features computed by its
own ``macrel.macrel_features.compute_all``. This adapter calls that function and runs both models
through onnxruntime; nothing of macrel is copied here. The models were built for peptides of up
to about 100 residues.

Columns: ``macrel_amp`` (probability of being an AMP; an oracle for ``amp``) and
``macrel_hemolysis`` (probability of being haemolytic; an oracle for ``hemolysis``).

Both packages are dependencies of latentgraph (the default attribute set uses the AMP model).
"""

from __future__ import annotations

import gzip
import importlib.resources
from typing import Any

import numpy as np
import torch

from latentgraph.errors import ConfigValueError

MACREL_MODELS = {  # column -> (model file, output class, property it is an oracle for)
    "macrel_amp": ("AMP.onnx.gz", "AMP", "amp"),
    "macrel_hemolysis": ("Hemo.onnx.gz", "Hemo", "hemolysis"),
}
INSTALL_HINT = "pip install macrel onnxruntime  (both are dependencies of latentgraph; reinstall it)"


def _import_macrel() -> tuple[Any, Any]:
    """``(compute_all, onnxruntime)``, or a :class:`ConfigValueError` saying what to install."""
    try:
        import onnxruntime
        from macrel.macrel_features import compute_all
    except ImportError as error:
        raise ConfigValueError(
            "attributes.external",
            "[macrel]",
            f"needs the packages macrel and onnxruntime ({error}); install them with: {INSTALL_HINT}",
        ) from error
    return compute_all, onnxruntime


class MacrelBlock:
    """Macrel's AMP and haemolysis probabilities for each sequence.

    Features are computed per sequence by macrel's own code (a Python loop, about 10k sequences
    per second here); the two forests then score the whole batch at once.
    """

    def __init__(self, columns: tuple[str, ...] = tuple(MACREL_MODELS)):
        self._compute_all, onnxruntime = _import_macrel()
        unknown = sorted(set(columns) - set(MACREL_MODELS))
        if unknown:
            raise KeyError(f"unknown macrel model(s) {unknown}; known: {', '.join(MACREL_MODELS)}")
        self.names = list(columns)
        self.oracle_for = {name: MACREL_MODELS[name][2] for name in columns}
        models = importlib.resources.files("macrel") / "data" / "models"
        self._sessions = {
            name: onnxruntime.InferenceSession(
                gzip.decompress((models / MACREL_MODELS[name][0]).read_bytes()), providers=["CPUExecutionProvider"]
            )
            for name in columns
        }

    def __call__(self, batch: Any) -> torch.Tensor:
        sequences = batch.sequences
        if not sequences:
            return torch.empty(0, len(self.names))
        features = np.asarray([self._compute_all(s) for s in sequences], dtype=np.float32)
        columns = []
        for name in self.names:
            [probabilities] = self._sessions[name].run(["output_probability"], {"input_features": features})
            positive = MACREL_MODELS[name][1]
            columns.append([row[positive] for row in probabilities])
        return torch.tensor(np.asarray(columns, dtype=np.float32).T)
