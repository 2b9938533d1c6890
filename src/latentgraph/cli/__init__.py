"""Command line: the ``latentgraph`` Hydra app composes the pipeline stages."""
