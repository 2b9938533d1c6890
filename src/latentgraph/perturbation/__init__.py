"""Perturbation experiments on latent codes (DESIGN §5): the public API for any autoencoder.

    from latentgraph.perturbation import Autoencoder, run_perturbation, PerturbationResult
"""

from latentgraph.perturbation.engine import run_perturbation
from latentgraph.perturbation.protocol import Attributes, Autoencoder
from latentgraph.perturbation.result import PerturbationResult

__all__ = ["Attributes", "Autoencoder", "PerturbationResult", "run_perturbation"]
