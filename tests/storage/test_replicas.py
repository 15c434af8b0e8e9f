"""Replicas on one PostgreSQL store: each answers from its own copy and sees the others' writes.

The server is real (started by the tests on 127.0.0.1), and so are the `qa serve` processes of
the slow tests, killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from bench.harness import ROOT, make_doc, run_qa, running_server, start_server, stop_server
from qa.app.service import Verbatim
from qa.config import Settings
from qa.reading.documents import Document
from qa.storage.local_postgres import LocalPostgres
from qa.storage.postgres import PostgresStore

BAKERY = Document("bakery", "Bakery news", "The bakery on Elm Street sells rye bread baked with "
                  "caraway seeds. It opens at six every morning.", "bakery.txt")
QUESTION = "What seeds are in the rye bread?"


def replica(tmp_path: Path, name: str, url: str, embedder) -> Verbatim:
    """A service with its own data dir over the shared store, warmed up as `qa serve` is."""
    service = Verbatim(Settings(data_dir=tmp_path / name, store_url=url, seed_on_start=False),
                       embedder=embedder)
    service.warm_up()
    return service


def wait_for(check, timeout: float = 10.0):
    """Poll until `check()` is truthy; its value, or the last one at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_a_replica_started_empty_copies_the_store_without_embedding(tmp_path, store_url, embedder):
    a = replica(tmp_path, "a", store_url, embedder)
    a.add_documents([BAKERY])
    texts = embedder.texts
    b = Verbatim(Settings(data_dir=tmp_path / "b", store_url=store_url), embedder=embedder)
    b.indexer.load()
    assert embedder.texts == texts  # its vectors came from the store, not the model
    np.testing.assert_array_equal(b.store.load_vectors("sentences")[1],
                                  a.store.load_vectors("sentences")[1])
    answer = b.ask(QUESTION)
    assert "caraway" in answer.answer and answer.answers[0].citation.doc_id == "bakery"
    assert answer.answers[0].citation == a.ask(QUESTION).answers[0].citation
    a.close()
    b.close()


def test_writes_through_one_replica_are_answered_and_deleted_on_the_other(tmp_path, store_url,
                                                                          embedder, monkeypatch):
    a, b = replica(tmp_path, "a", store_url, embedder), replica(tmp_path, "b", store_url, embedder)
    a.add_documents([Document("other", "Other", "The ferry leaves at noon.", "o.txt")])
    assert wait_for(lambda: b.health()["documents"] == 1, timeout=5)
    assert "caraway" not in (b.ask(QUESTION).answer or "")
    full_loads: list[int] = []
    load = b.indexer.load
    monkeypatch.setattr(b.indexer, "load", lambda: full_loads.append(1) or load())
    a.add_documents([BAKERY])
    seen = wait_for(lambda: "caraway" in (b.ask(QUESTION).answer or ""), timeout=5)
    assert seen, "the second replica never answered from the new document"
    assert not full_loads  # it took in just the new document, not the whole corpus again
    assert b.indexer.vector_count() == a.indexer.vector_count()
    assert b.health()["store"] == "postgresql" and b.health()["documents"] == 2
    b.remove("bakery")  # and back the other way
    assert wait_for(lambda: a.get_document("bakery") is None and not any(
        x.citation.doc_id == "bakery" for x in a.ask(QUESTION).answers), timeout=5)
    a.close()
    b.close()


def test_a_rebuild_through_one_replica_is_taken_in_by_the_others(tmp_path, store_url, embedder):
    a, b = replica(tmp_path, "a", store_url, embedder), replica(tmp_path, "b", store_url, embedder)
    a.add_documents([BAKERY])
    assert wait_for(lambda: b.health()["documents"] == 1, timeout=5)
    old_ids = set(b.store.load_vectors("sentences")[0].tolist())
    rebuilt: list[int] = []
    thread = threading.Thread(target=lambda: rebuilt.append(a.rebuild()), daemon=True)
    thread.start()
    thread.join(120)
    assert rebuilt == [1], "the rebuild did not finish (a writer waiting on itself?)"
    new_ids = set(a.store.load_vectors("sentences")[0].tolist())
    assert new_ids and not new_ids & old_ids
    assert wait_for(lambda: set(b.store.load_vectors("sentences")[0].tolist()) == new_ids, 5)
    answer = b.ask(QUESTION)
    assert "caraway" in answer.answer and answer.answers[0].citation.doc_id == "bakery"
    assert b.indexer.vector_count() == len(new_ids)
    a.close()
    b.close()


def test_a_replica_behind_the_pruned_change_log_copies_everything(tmp_path, store_url,
                                                                  monkeypatch):
    from qa.reading.chunking import chunk_text
    from qa.storage import postgres

    monkeypatch.setattr(postgres, "CHANGES_KEPT", 2)
    a = PostgresStore(store_url, tmp_path / "a")
    b = PostgresStore(store_url, tmp_path / "b")

    def add(doc_id: str) -> None:
        chunks = chunk_text(BAKERY.text, 4, 1, 1200)
        with a.transaction() as conn:
            a.write_document(conn, Document(doc_id, BAKERY.title, BAKERY.text, "x.txt"), chunks,
                             np.ones((2, 4), np.float32),
                             np.ones((len(chunks.passages), 4), np.float32))

    add("d1")
    assert b.pull() and b.changed_since(0, 1) == ["d1"]
    for n in range(2, 7):
        add(f"d{n}")
    with psycopg.connect(store_url) as conn:
        logged = [r[0] for r in conn.execute("SELECT generation FROM verbatim.changes")]
    assert min(logged) > 2  # the log was pruned past b's generation...
    assert b.pull() and b.changed_since(1, 6) is None  # ...so b copied everything anew
    assert sorted(d.doc_id for d in b.list_documents()) == [f"d{n}" for n in range(1, 7)]
    assert b.load_vectors("sentences")[0].tolist() == a.load_vectors("sentences")[0].tolist()
    a.close()
    b.close()


def test_one_writer_at_a_time_across_replicas(tmp_path, store_url):
    a = PostgresStore(store_url, tmp_path / "a")
    b = PostgresStore(store_url, tmp_path / "b")
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with a.exclusive():
            holding.set()
            time.sleep(0.5)
            order.append("a done")

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    with b.exclusive():
        order.append("b in")
    thread.join()
    assert order == ["a done", "b in"]
    a.close()
    b.close()


@pytest.mark.slow
def test_a_replica_can_read_from_a_streaming_standby(tmp_path, postgres):
    url = postgres.create_database("standby_test")
    writer = PostgresStore(url, tmp_path / "writer")  # creates the schema on the primary
    standby = LocalPostgres().standby_of(postgres).start()
    try:
        reader = PostgresStore(url, tmp_path / "reader",
                               read_url=standby.url("standby_test"))
        chunks_doc = BAKERY
        from qa.reading.chunking import chunk_text

        chunks = chunk_text(chunks_doc.text, 4, 1, 1200)
        with writer.transaction() as conn:
            writer.write_document(conn, chunks_doc, chunks, np.ones((2, 4), np.float32),
                                  np.ones((len(chunks.passages), 4), np.float32))
        standby.wait_replayed(postgres)
        assert reader.pull() and reader.get_document("bakery") == BAKERY
        with psycopg.connect(standby.url("standby_test")) as conn:  # it really is read-only
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        assert reader.delete_document("bakery") is not None  # writes go to the primary...
        assert reader.get_document("bakery") is None  # ...and show at once in its own copy
        reader.close()
    finally:
        standby.stop()
        writer.close()


@pytest.mark.slow
def test_a_store_that_cannot_be_reached_is_a_message_not_a_traceback(tmp_path):
    from qa.storage.local_postgres import free_port

    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none"
    result = run_qa("documents", "--data-dir", str(tmp_path / "d"), "--store-url", url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot open the store at postgresql://nobody:***@" in result.stderr
    assert "secret" not in result.stderr
    wrong = run_qa("documents", "--store-url", "mysql://x/y")
    assert wrong.returncode == 1 and "unknown store URL scheme 'mysql'" in wrong.stderr


@pytest.mark.slow
def test_replicas_killed_with_sigkill_lose_nothing_and_catch_up(tmp_path, store_url):
    env = {**os.environ, "VERBATIM_STORE_URL": store_url}
    with running_server(tmp_path / "a", "--no-seeds", env=env) as (url_a, _):
        b_url, b_proc = start_server(tmp_path / "b", "--no-seeds", env=env)
        try:
            with httpx.Client(base_url=url_a, timeout=60) as a, \
                    httpx.Client(base_url=b_url, timeout=60) as b:
                docs = [make_doc(f"k{i}", sentences=6) for i in range(3)]
                assert a.post("/v1/documents", json={"documents": docs[:2]}).status_code in (200, 201)
                assert wait_for(lambda: b.get("/healthz").json()["documents"] == 2, timeout=5)
                b_proc.send_signal(signal.SIGKILL)
                b_proc.wait()
                assert a.post("/v1/documents", json={"documents": docs[2:]}).status_code in (200, 201)
                assert a.delete("/v1/documents/k0").status_code in (200, 204)
            b_url, b_proc = start_server(tmp_path / "b", "--no-seeds", env=env)
            with httpx.Client(base_url=b_url, timeout=60) as b:
                listed = sorted(d["doc_id"] for d in b.get("/v1/documents").json()["documents"])
                assert listed == ["k1", "k2"]
                body = b.post("/v1/answer", json={"question": "What did courier K2 carry?"}).json()
                assert body["answers"][0]["citation"]["doc_id"] == "k2"
        finally:
            stop_server(b_proc)


@pytest.mark.slow
def test_a_writer_killed_mid_add_leaves_no_partial_document(tmp_path, store_url):
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(40):
        doc = make_doc(f"w{i}", sentences=40)
        (folder / f"w{i}.txt").write_text(doc["text"])
    env = {**os.environ, "VERBATIM_STORE_URL": store_url}
    writer = subprocess.Popen([sys.executable, "-m", "api.cli", "add", str(folder), "--data-dir",
                               str(tmp_path / "w")], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(8)  # well into embedding (or writing)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with psycopg.connect(store_url) as conn:
        counts = conn.execute(
            "SELECT d.doc_id, count(s.id) FROM verbatim.documents d LEFT JOIN "
            "verbatim.sentences s USING (doc_id) GROUP BY d.doc_id").fetchall()
    assert len(counts) in (0, 40) and all(n == 40 for _, n in counts)  # all or nothing
    # The dead writer's lock went with its connection: the next writer gets on with it.
    done = run_qa("add", str(folder), "--data-dir", str(tmp_path / "w2"), env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    reader = PostgresStore(store_url, tmp_path / "r")
    assert reader.counts()["documents"] == 40
    assert all(n == 40 for n in (len(reader.quotable_sentences([f"w{i}"])) for i in range(40)))
    reader.close()
