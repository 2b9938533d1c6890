"""The positive control's semi-synthetic shift (docs/method.md §8): real sequences, a label made by
a known function of planted attributes, and a spurious attribute whose link to the label holds in
distribution and reverses out of distribution.

Pure numpy: the caller computes the planted function's logits and the spurious attribute's values
for every row; this module draws the labels and chooses which rows each side keeps.
"""

from __future__ import annotations

import numpy as np


def planted_labels(logits: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``y = 1[logit + noise · ε > 0]`` with logistic ``ε``: the planted function decides the label up
    to noise, so the planted members are its whole Markov blanket."""
    epsilon = rng.logistic(size=len(logits))
    return (logits + noise * epsilon > 0).astype(float)


def spurious_selection(
    labels: np.ndarray, spurious: np.ndarray, threshold: float, agreement: float, rng: np.random.Generator
) -> np.ndarray:
    """Which rows to keep so that ``spurious > threshold`` agrees with the label on a fraction of
    about ``agreement`` of the kept rows: a row where the two agree is kept with probability
    ``agreement``, one where they disagree with ``1 − agreement``. In distribution ``agreement`` is
    above 0.5 (the spurious attribute predicts the label), out of distribution below (it predicts
    the opposite)."""
    agree = (spurious > threshold) == (labels == 1)
    keep_probability = np.where(agree, agreement, 1.0 - agreement)
    return rng.random(len(labels)) < keep_probability
