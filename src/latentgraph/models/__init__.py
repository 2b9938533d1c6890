"""Generative autoencoders (docs/method.md §3)."""
