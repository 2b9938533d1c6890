"""latentgraph: attribute graphs from perturbation experiments on a peptide autoencoder's latents.

The subpackages follow the pipeline: ``data`` → ``attributes`` → ``models`` → ``perturbation`` →
``graph`` → ``predictors`` → ``report``, with ``cli`` composing them. ``config`` holds the
structured-config schemas that every stage reads.
"""

__version__ = "0.1.0"
