"""Exact inner-product vector search with FAISS, keyed by the store's row ids."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import faiss
import numpy as np

# One query at a time is searched; OpenMP threads only add wake-up latency at this size.
faiss.omp_set_num_threads(1)


class VectorIndex:
    """A FAISS index of unit vectors that supports adding, removing and looking up by id."""

    def __init__(self, dim: int) -> None:
        """Create an empty index for vectors of size `dim`."""
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        """Count the vectors held."""
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given ids."""
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int] | np.ndarray) -> None:
        """Remove vectors by id (ids not present are ignored)."""
        if len(ids):
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> dict[int, float]:
        """Return the k nearest ids with their cosine similarity."""
        if len(self) == 0 or k <= 0:
            return {}
        scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1),
                                         min(k, len(self)))
        return {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}

    def similarity(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Cosine similarity of the query to specific stored vectors."""
        if not ids:
            return {}
        vectors = self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return dict(zip(ids, (vectors @ np.asarray(query, dtype=np.float32).ravel()).tolist()))

    def save(self, path: Path) -> None:
        """Write the index atomically: a crash leaves the previous file intact."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            faiss.write_index(self._index, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path, dim: int) -> "VectorIndex":
        """Read an index written by `save`."""
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path}: vectors of size {index.d}, expected {dim}")
        out = cls(dim)
        out._index = faiss.IndexIDMap2.cast(index) if not isinstance(index, faiss.IndexIDMap2) \
            else index
        return out

    @classmethod
    def from_vectors(cls, ids: np.ndarray, vectors: np.ndarray, dim: int) -> "VectorIndex":
        """Build an index from stored vectors (no re-embedding)."""
        out = cls(dim)
        out.add(ids, vectors)
        return out
