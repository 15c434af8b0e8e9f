"""Word vectors: single words embedded by the model, projected to a few dimensions.

Answering compares each question word with every word of ~100 candidate sentences. At the
model's 384 dimensions that took 0.3 ms per question; projected onto the 64 directions along
which words vary most (fitted once on the public SQuAD vocabulary, `training/fit_word_projection.py`,
and shipped in `word_projection.npz`) it is six times cheaper, and matches words at least as well:
centring removes what all words share, which otherwise makes every pair look alike.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

PROJECTION_FILE = Path(__file__).with_name("word_projection.npz")


@lru_cache(maxsize=1)
def _projection() -> tuple[np.ndarray, np.ndarray]:
    """Load the shipped centre and directions."""
    data = np.load(PROJECTION_FILE)
    return data["mean"].astype(np.float32), data["components"].astype(np.float32)


def projection_name() -> str:
    """Name the projection, so stored word vectors are only compared under the same one."""
    _, components = _projection()
    return f"pca{components.shape[0]}-{components.shape[1]}"


def project_words(vectors: np.ndarray) -> np.ndarray:
    """Turn the model's unit word vectors into unit vectors in the projected space."""
    mean, components = _projection()
    if not len(vectors):
        return np.zeros((0, components.shape[0]), np.float32)
    projected = (np.asarray(vectors, np.float32) - mean) @ components.T
    return projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-9)
