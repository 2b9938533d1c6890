"""latentgraph's Hydra sweeper (``hydra/sweeper=latentgraph``, the default of ``conf/hydra/default.yaml``).

Hydra instantiates sweepers only from the ``hydra_plugins`` namespace package, so the class lives
here; what it does is written in :mod:`latentgraph.pipeline.sweep`.
"""
