"""Inner-product vector search with FAISS, keyed by the store's row ids.

Small indexes are exact (a flat scan). Large ones use an inverted-file index (IVF): the vectors
are clustered and a question is compared only with the closest clusters, which keeps search
well under a millisecond at a million vectors for a small loss of recall. Either way the vectors
are held in half precision (float16): half the memory and file size of float32, cosines off by
less than 1e-4, and a scan no slower.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

import faiss
import numpy as np

# One query at a time is searched; OpenMP threads only add wake-up latency at this size.
faiss.omp_set_num_threads(1)


TRAINING_POINTS_PER_LIST = 40
# A filtered search over at most this many vectors scores each exactly (a few ms at 50k).
EXACT_SUBSET = 50_000


HALF = faiss.ScalarQuantizer.QT_fp16


def _flat(dim: int) -> faiss.IndexIDMap2:
    """An exact index of half-precision vectors, keyed by the store's row ids."""
    return faiss.IndexIDMap2(faiss.IndexScalarQuantizer(dim, HALF, faiss.METRIC_INNER_PRODUCT))


def _ivf(ids: np.ndarray, vectors: np.ndarray, dim: int, nprobe: int
         ) -> faiss.IndexIVFScalarQuantizer:
    """Cluster the vectors (about 4 * sqrt(n) clusters) and file each under its cluster."""
    nlist = max(16, int(4 * np.sqrt(len(vectors))))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, HALF,
                                          faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(vectors), min(len(vectors), TRAINING_POINTS_PER_LIST * nlist),
                        replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # lookup and removal by id
    index.nprobe = nprobe
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                       np.asarray(ids, dtype=np.int64))
    return index


@runtime_checkable
class VectorSearch(Protocol):
    """What retrieval and indexing ask of a vector index, whatever holds the vectors."""

    @property
    def approximate(self) -> bool:
        """Tell whether searches may miss a true neighbour (clustered search)."""
        ...

    def __len__(self) -> int:
        """Count the vectors held."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit vectors under the store's row ids."""
        ...

    def remove(self, ids: list[int] | np.ndarray) -> None:
        """Remove vectors by id (ids not present are ignored)."""
        ...

    def search(self, query: np.ndarray, k: int, only: np.ndarray | None = None
               ) -> dict[int, float]:
        """The k nearest ids with their cosine similarity (among the ids `only` allows)."""
        ...

    def similarity(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Cosine similarity of the query to specific stored vectors."""
        ...

    def save(self, path: Path) -> None:
        """Write the index so a restart can skip rebuilding it."""
        ...


class VectorIndex:
    """A FAISS index of unit vectors that supports adding, removing and looking up by id."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        """Wrap an index for vectors of size `dim` (an empty exact one by default)."""
        self.dim = dim
        self._index = index if index is not None else _flat(dim)

    @property
    def approximate(self) -> bool:
        """Tell whether searches use the clustered (IVF) index."""
        return isinstance(self._index, faiss.IndexIVF)

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

    def search(self, query: np.ndarray, k: int, only: np.ndarray | None = None
               ) -> dict[int, float]:
        """Return the k nearest ids with their cosine similarity; with `only`, among those
        ids alone: a few are scored exactly, many searched with FAISS skipping the rest, so a
        filter never empties the top k the way dropping results after the search would."""
        if len(self) == 0 or k <= 0:
            return {}
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if only is None:
            scores, ids = self._index.search(q, min(k, len(self)))
        elif len(only) <= EXACT_SUBSET:
            if not len(only):
                return {}
            scored = self.similarity(q.ravel(), [int(i) for i in only])
            top = sorted(scored.items(), key=lambda kv: -kv[1])[:k]
            return {int(i): float(s) for i, s in top}
        else:
            selector = faiss.IDSelectorBatch(np.asarray(only, dtype=np.int64))
            params = (faiss.SearchParametersIVF(sel=selector, nprobe=self._index.nprobe * 4)
                      if self.approximate else faiss.SearchParameters(sel=selector))
            scores, ids = self._index.search(q, min(k, len(only)), params=params)
        return {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}

    def similarity(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Cosine similarity of the query to specific stored vectors."""
        if not ids:
            return {}
        vectors = np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)),
                             dtype=np.float32)
        # einsum, not `@`: a BLAS product wakes OpenBLAS's threads, whose spinning slows the
        # rest of the answer on a small machine.
        scores = np.einsum("nd,d->n", vectors, np.asarray(query, dtype=np.float32).ravel())
        return dict(zip(ids, scores.tolist()))

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
    def load(cls, path: Path, dim: int, nprobe: int) -> VectorIndex:
        """Read an index written by `save`."""
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path}: vectors of size {index.d}, expected {dim}")
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = nprobe
        elif not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"{path}: unexpected index type {type(index).__name__}")
        return cls(dim, index)

    @classmethod
    def from_vectors(cls, ids: np.ndarray, vectors: np.ndarray, dim: int,
                     approximate_above: int, nprobe: int) -> VectorIndex:
        """Build an index from stored vectors (no re-embedding), approximate when large."""
        if len(ids) >= approximate_above:
            return cls(dim, _ivf(np.asarray(ids), np.asarray(vectors), dim, nprobe))
        out = cls(dim)
        out.add(ids, vectors)
        return out
