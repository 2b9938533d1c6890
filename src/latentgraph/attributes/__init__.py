"""Attribute oracles (docs/method.md §2): vectorised descriptors, trained classifiers, external models,
combined into attribute sets that map sequences to ``[n, m]`` tensors."""

from latentgraph.attributes.descriptors import DESCRIPTOR_NAMES, compute_descriptors
from latentgraph.attributes.sets import AttributeSet, DescriptorBlock, build_attribute_set

__all__ = ["DESCRIPTOR_NAMES", "AttributeSet", "DescriptorBlock", "build_attribute_set", "compute_descriptors"]
