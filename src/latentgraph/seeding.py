"""Counter-based seeds: every random draw of a training step is a function of (seed, step, rank).

A fit that draws from one running random stream can only be resumed exactly if that stream's
state is saved and restored at exactly the right moment, which Lightning's prefetching and
validation loops make fragile. Seeding each step from its own counter instead makes a resumed
fit draw what the uninterrupted one drew, with nothing to save.
"""

from __future__ import annotations

import hashlib

# independent streams drawn at the same step
MODEL_STREAM = 0  # word dropout, code noise, MMD random features
AUGMENT_STREAM = 1  # crop and substitution of the training batch
SHUFFLE_STREAM = 2  # the epoch's order of the training corpus
BUCKET_STREAM = 3  # the order of the epoch's length-bucketed batches


def derived_seed(*parts: int) -> int:
    """A 63-bit seed that depends on every integer in ``parts`` (order matters)."""
    digest = hashlib.blake2b(",".join(str(int(p)) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
