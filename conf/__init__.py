"""Hydra configs, shipped in the wheel as latentgraph.conf (search path pkg://latentgraph.conf)."""
