"""Perturbation experiments on latent codes (docs/method.md §4): the public API for any autoencoder.

from latentgraph.perturbation import Autoencoder, run_perturbation, PerturbationResult
from latentgraph.perturbation import PerturbationCallback  # the same at a Lightning fit's end
"""

from latentgraph.perturbation.callback import PerturbationCallback
from latentgraph.perturbation.engine import run_perturbation
from latentgraph.perturbation.protocol import Attributes, Autoencoder, AutoencoderCheckError, check_autoencoder
from latentgraph.perturbation.result import PerturbationResult

__all__ = [
    "Attributes",
    "Autoencoder",
    "AutoencoderCheckError",
    "PerturbationCallback",
    "PerturbationResult",
    "check_autoencoder",
    "run_perturbation",
]
