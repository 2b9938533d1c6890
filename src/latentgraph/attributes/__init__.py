"""Attribute oracles (DESIGN §3): vectorised peptide descriptors computed on token tensors."""

from latentgraph.attributes.descriptors import DESCRIPTOR_NAMES, compute_descriptors

__all__ = ["DESCRIPTOR_NAMES", "compute_descriptors"]
