"""SQLite keeps vectors in half precision, and still reads the float32 ones older stores hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.reading.chunking import chunk_text
from qa.reading.documents import Document
from qa.storage.factory import open_store

DIM = 384
DOC = Document("torch", "Torch", "The torch went to space. It came back to Earth in November. "
               "Two cosmonauts carried it outside the station.", "torch.txt")


def test_vectors_take_half_the_bytes_and_a_store_written_by_both_versions_still_loads(
        tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    chunks = chunk_text(DOC.text, 4, 1, 1200)
    rng = np.random.default_rng(0)
    svec = rng.standard_normal((sum(s.quotable for s in chunks.sentences), DIM)).astype(np.float32)
    svec /= np.linalg.norm(svec, axis=1, keepdims=True)
    pvec = svec[:len(chunks.passages)]
    with store.transaction() as conn:
        store.write_document(conn, DOC, chunks, svec, pvec)
    store.close()
    db = sqlite3.connect(tmp_path / "verbatim.sqlite3")
    sizes = [n for (n,) in db.execute("SELECT length(vector) FROM sentences WHERE quotable")]
    assert sizes and all(n < DIM * 4 // 2 + 8 for n in sizes)  # about 2 bytes a dimension
    first = db.execute("SELECT min(id) FROM sentences WHERE quotable").fetchone()[0]
    db.execute("UPDATE sentences SET vector = ? WHERE id = ?", (svec[0].tobytes(), first))
    db.commit()  # as a store written before vectors were halved would hold it
    db.close()
    store = open_store(Settings(data_dir=tmp_path))
    _, vectors = store.load_vectors("sentences")
    np.testing.assert_array_equal(vectors[0], svec[0])
    np.testing.assert_allclose(vectors, svec, atol=1e-3)
    store.close()
