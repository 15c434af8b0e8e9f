"""One suite for the vector index in both of its forms: exact (flat) and approximate (IVF)."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.vector_index import VectorIndex, VectorSearch

DIM = 16
HALF = 1e-3  # vectors are held in half precision


def unit(rows: int, seed: int) -> np.ndarray:
    """Random unit vectors."""
    x = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(params=["exact", "approximate"])
def index(request: pytest.FixtureRequest) -> VectorIndex:
    """2,000 vectors under ids 1000.., exact or clustered (every cluster searched)."""
    vectors = unit(2000, 0)
    ids = np.arange(1000, 3000)
    above = 10**9 if request.param == "exact" else 100
    built = VectorIndex.from_vectors(ids, vectors, DIM, above, nprobe=4096)
    assert built.approximate == (request.param == "approximate")
    return built


def test_both_forms_meet_the_protocol(index):
    assert isinstance(index, VectorSearch)


def test_search_finds_a_stored_vector_first_with_its_cosine(index):
    query = unit(2000, 0)[123]
    found = index.search(query, 5)
    assert next(iter(found)) == 1123 and found[1123] == pytest.approx(1.0, abs=HALF)
    assert list(found.values()) == sorted(found.values(), reverse=True)


def test_added_and_removed_vectors_are_found_and_forgotten(index, tmp_path):
    extra = unit(3, 7)
    index.add(np.array([5000, 5001, 5002]), extra)
    assert len(index) == 2003
    assert next(iter(index.search(extra[1], 1))) == 5001
    index.remove([5001, 99999])
    assert len(index) == 2002 and 5001 not in index.search(extra[1], 10)
    assert index.similarity(extra[2], [5002])[5002] == pytest.approx(1.0, abs=HALF)
    index.save(tmp_path / "v.faiss")
    again = VectorIndex.load(tmp_path / "v.faiss", DIM, nprobe=4096)
    assert again.search(extra[0], 1) == index.search(extra[0], 1)
