"""Generative autoencoders (DESIGN §4)."""
