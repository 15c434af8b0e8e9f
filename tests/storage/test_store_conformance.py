"""One suite for every store backend: what indexing, retrieval and answering rely on.

Each test runs against SQLite (the default) and a real PostgreSQL server started by the tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from qa.answering.filters import select
from qa.config import Settings
from qa.reading.chunking import chunk_text
from qa.reading.documents import Document
from qa.reading.metadata import Metadata, make_metadata
from qa.storage.factory import open_store
from qa.storage.protocols import DocumentStore, LexicalIndex

DIM = 8
TORCH = Document("torch", "Olympic torch in space",
                 "The Olympic torch flew to the space station in November. Two cosmonauts "
                 "carried it on a spacewalk. It returned to Earth aboard a Soyuz capsule.", "a.txt")
RELAY = Document("relay", "Torch relay",
                 "The relay covered sixty-five thousand kilometres. It visited the North Pole "
                 "aboard a nuclear icebreaker.", "b.txt")

HALF = 1e-3  # stored vectors are rounded to half precision


@pytest.fixture(params=["sqlite", "postgresql"])
def open_replica(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> Iterator[Callable[[str], DocumentStore]]:
    """Open a replica's store by name: for PostgreSQL each has a data dir of its own over one
    database; SQLite's replicas are processes on one data dir."""
    url = request.getfixturevalue("store_url") if request.param == "postgresql" else None
    opened: list[DocumentStore] = []

    def open_one(name: str = "a") -> DocumentStore:
        store = open_store(Settings(data_dir=tmp_path / (name if url else "a"), store_url=url))
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_replica: Callable[[str], DocumentStore]) -> DocumentStore:
    """An empty store."""
    return open_replica("a")


def write(store: DocumentStore, doc: Document, seed: int = 0):
    """Chunk a document and write it with made-up vectors, as the indexer would."""
    chunks = chunk_text(doc.text, 4, 1, 1200)
    rng = np.random.default_rng(seed)
    svec = rng.random((sum(s.quotable for s in chunks.sentences), DIM), dtype=np.float32)
    pvec = rng.random((len(chunks.passages), DIM), dtype=np.float32)
    with store.transaction() as conn:
        replaced = store.write_document(conn, doc, chunks, svec, pvec)
    return replaced, svec, pvec


def test_a_store_is_its_own_lexical_index(store):
    assert isinstance(store, DocumentStore) and isinstance(store, LexicalIndex)


def test_a_written_document_reads_back_with_its_vectors_and_ids(store):
    replaced, svec, _ = write(store, TORCH)
    sentences = store.quotable_sentences()
    assert [s.id for s in sentences] == replaced.added_sentences
    assert [s.text for s in sentences][0] == "The Olympic torch flew to the space station in November."
    for s in sentences:
        assert TORCH.text[s.start:s.end] == s.text
    ids, vectors = store.load_vectors("sentences")
    assert ids.tolist() == replaced.added_sentences
    np.testing.assert_allclose(vectors, svec, atol=HALF)  # kept in half precision
    pids, _ = store.load_vectors("passages")
    assert pids.tolist() == [p.id for p in store.passages()] == replaced.added_passages
    assert store.get_document("torch") == TORCH
    assert store.titles() == {"torch": TORCH.title}
    assert store.counts() == {"documents": 1, "passages": len(pids), "sentences": 3}
    [summary] = store.list_documents()
    assert (summary.doc_id, summary.sentences, summary.chars) == ("torch", 3, len(TORCH.text))
    span = ("torch", sentences[1].start, sentences[1].end)
    assert store.text_slices([span]) == {span: sentences[1].text}
    assert store.document_hashes() == {"torch": TORCH.content_hash}
    assert [d.doc_id for d in store.iter_documents()] == ["torch"]


def test_vectors_of_some_documents_are_read_alone(store):
    torch, tvec, _ = write(store, TORCH)
    relay, rvec, _ = write(store, RELAY, seed=1)
    ids, vectors = store.load_vectors("sentences", ["relay"])
    assert ids.tolist() == relay.added_sentences
    np.testing.assert_allclose(vectors, rvec, atol=HALF)  # kept in half precision
    assert store.load_vectors("passages", ["torch"])[0].tolist() == torch.added_passages
    assert store.load_vectors("sentences", ["nope"])[0].size == 0


def test_words_are_found_by_bm25_with_titles_weighted_less(store):
    write(store, TORCH)
    write(store, RELAY, seed=1)
    by_id = {s.id: s for s in store.quotable_sentences()}
    hits = store.lexical_search("sentences", ["icebreaker"])
    assert [by_id[i].doc_id for i in hits] == ["relay"]
    relay_title_only = store.lexical_search("sentences", ["relay"])
    in_text = {i for i in relay_title_only if "relay" in by_id[i].text.lower()}
    assert in_text and all(relay_title_only[i] > relay_title_only[j]
                           for i in in_text for j in set(relay_title_only) - in_text)
    assert store.row_counts("sentences", ["cosmonauts", "zebra"]) == {"cosmonauts": 1, "zebra": 0}
    assert store.lexical_search("passages", ["soyuz"])


def test_replacing_a_document_reports_and_removes_its_old_rows(store):
    first, _, _ = write(store, TORCH)
    changed = Document("torch", TORCH.title, "The torch was carried by a penguin.", "a.txt")
    second, _, _ = write(store, changed, seed=3)
    assert second.removed_sentences == first.added_sentences
    assert second.removed_passages == first.added_passages
    assert not set(second.added_sentences) & set(first.added_sentences)
    assert not store.lexical_search("sentences", ["cosmonauts"])
    assert store.lexical_search("sentences", ["penguin"])
    assert store.get_document("torch").text == changed.text


def test_a_failed_write_leaves_nothing_and_the_generation_unchanged(store):
    write(store, TORCH)
    generation = store.generation
    chunks = chunk_text(RELAY.text, 4, 1, 1200)
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.write_document(conn, RELAY, chunks, np.ones((2, DIM), np.float32),
                             np.ones((len(chunks.passages), DIM), np.float32))
        raise RuntimeError("the writer died")
    assert store.generation == generation
    assert store.get_document("relay") is None
    assert not store.lexical_search("sentences", ["icebreaker"])


def test_every_committed_write_advances_the_generation_once(store):
    start = store.generation
    write(store, TORCH)
    assert store.generation == start + 1
    assert store.last_start_generation == start
    store.delete_document("torch")
    assert store.generation == start + 2


def test_deleting_a_document_removes_it_and_a_missing_one_writes_nothing(store):
    replaced, _, _ = write(store, TORCH)
    generation = store.generation
    assert store.delete_document("nope") is None
    assert store.generation == generation
    gone = store.delete_document("torch")
    assert gone.removed_sentences == replaced.added_sentences and not gone.added_sentences
    assert store.get_document("torch") is None
    assert store.load_vectors("sentences")[0].size == 0
    assert not store.lexical_search("sentences", ["torch"])


def test_metadata_and_word_vectors_are_kept(store):
    assert not store.has_content()
    store.set_meta("seeded", "1")
    assert store.get_meta("seeded") == "1" and store.has_content()
    with store.transaction() as conn:
        store.write_words(conn, ["torch", "space"], np.eye(2, DIM, dtype=np.float32))
    with store.transaction() as conn:
        store.write_words(conn, ["space", "orbit"], np.ones((2, DIM), np.float32))
    assert store.known_words(["torch", "orbit", "penguin"]) == {"torch", "orbit"}
    last, words, vectors = store.load_words()
    assert words == ["torch", "space", "orbit"] and vectors.shape == (3, DIM)
    np.testing.assert_array_equal(vectors[1], np.eye(2, DIM, dtype=np.float32)[1])  # kept once
    assert store.load_words(last)[1] == []


def test_clearing_inside_a_rebuild_swaps_everything_at_once(store):
    write(store, TORCH)
    chunks = chunk_text(RELAY.text, 4, 1, 1200)
    with store.transaction() as conn:
        store.clear(conn)
        store.write_document(conn, RELAY, chunks,
                             np.ones((sum(s.quotable for s in chunks.sentences), DIM), np.float32),
                             np.ones((len(chunks.passages), DIM), np.float32))
    assert [d.doc_id for d in store.iter_documents()] == ["relay"]
    assert not store.lexical_search("sentences", ["cosmonauts"])
    assert store.load_vectors("sentences")[0].size == 2


def test_a_second_process_on_the_same_store_sees_committed_writes(open_replica):
    a, b = open_replica("a"), open_replica("b")
    replaced, svec, _ = write(a, TORCH)
    b.pull()
    ids, vectors = b.load_vectors("sentences")
    assert ids.tolist() == replaced.added_sentences
    np.testing.assert_allclose(vectors, svec, atol=HALF)  # kept in half precision
    assert b.generation == a.generation


def test_the_original_file_is_kept_shared_and_dropped_with_its_last_document(store):
    from dataclasses import replace

    pdf = b"%PDF-1.4 the bytes as they came"
    one = replace(TORCH, original=pdf, media_type="application/pdf", url="https://example.org/t")
    two = replace(RELAY, original=pdf, media_type="application/pdf")  # the same file twice
    write(store, one)
    write(store, two)
    got = store.get_original("torch")
    assert got is not None and got.data == pdf and got.media_type == "application/pdf"
    assert got.name == "a.txt"
    assert store.get_document("torch").url == "https://example.org/t"
    store.pull()
    with store.transaction() as conn:  # a rebuild rewrites documents that only name the file
        store.clear(conn)
    write(store, replace(TORCH, original_id=one.original_id, media_type="application/pdf"))
    assert store.get_original("torch").data == pdf
    write(store, two)
    store.delete_document("torch")
    store.pull()
    assert store.get_original("torch") is None
    assert store.get_original("relay").data == pdf  # still needed by the other document
    store.delete_document("relay")
    store.pull()
    assert store.get_original("relay") is None
    assert store.get_original("nothing") is None


def test_a_deleted_documents_original_gives_its_space_back(tmp_path):
    from dataclasses import replace

    from qa.storage.sqlite import Store

    store = Store(tmp_path)
    write(store, replace(TORCH, original=b"x" * 1000, media_type="text/plain"))
    count = "SELECT count(*) FROM originals"
    assert store._conn().execute(count).fetchone()[0] == 1
    store.delete_document("torch")
    assert store._conn().execute(count).fetchone()[0] == 0


def test_metadata_reads_back_and_filters_select_the_same_documents(open_replica):
    a, b = open_replica("a"), open_replica("b")
    filed = dataclasses.replace(TORCH, metadata=make_metadata(
        "space", ["iss", "2013"], {"year": 2013, "published": "2013-11-09", "lang": "en"}))
    write(a, filed)
    write(a, RELAY, seed=1)  # no metadata: the default collection
    b.pull()
    for store in (a, b):  # the writer and a second process see the same
        assert store.get_document("torch").metadata == filed.metadata
        assert store.get_document("relay").metadata == Metadata()
        listed = {d.doc_id: d.metadata for d in store.list_documents()}
        assert listed == {"torch": filed.metadata, "relay": Metadata()}
        documents = store.metadata()
        assert documents["torch"] == ("a.txt", filed.metadata)
        assert select({"collection": "space"}, documents) == {"torch"}
        assert select({"published": {"gte": "2013-11-01", "lt": "2013-12-01"}},
                      documents) == {"torch"}
        assert select({"or": [{"tags": "iss"}, {"doc_id": "relay"}]}, documents) == \
            {"torch", "relay"}
        assert select({"not": {"collection": "default"}}, documents) == {"torch"}
    assert a.document_hashes()["torch"] != TORCH.content_hash  # re-filed means re-added
