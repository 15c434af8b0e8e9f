"""The index: incremental adds, deletes, restarts without re-embedding, atomic writes, model checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.app.service import Verbatim
from qa.config import DEFAULT_SEEDS_DIR
from qa.indexing.indexer import ModelMismatch, document_vectors, model_inputs
from qa.indexing.staging import STAGING_NAME, Staging
from qa.reading.documents import make_document
from qa.reading.formats import parse_document

TORCH = make_document("The torch was carried by Oleg Kotov during the spacewalk. "
                      "It stayed outside for about an hour.", doc_id="torch", title="Torch")
BREAD = make_document("Sourdough bread needs a starter made of flour and water. "
                      "The dough rises overnight before baking.", doc_id="bread", title="Bread")


def test_adding_indexes_only_new_or_changed_documents(service, embedder):
    first = service.add_documents([TORCH, BREAD])
    assert sorted(first.added) == ["bread", "torch"]
    before = embedder.texts
    again = service.add_documents([TORCH, BREAD])
    assert sorted(again.unchanged) == ["bread", "torch"] and not again.added
    assert embedder.texts == before  # nothing re-embedded
    changed = make_document(BREAD.text + " Rye flour makes it darker.", doc_id="bread",
                            title="Bread")
    report = service.add_documents([changed])
    assert report.updated == ["bread"]
    assert service.ask("What makes the bread darker?").answer == "Rye flour makes it darker."


def test_deleting_removes_vectors_and_text(service):
    service.add_documents([TORCH, BREAD])
    sentences_before = len(service.indexer.sentence_index)
    assert service.remove("bread")
    assert len(service.indexer.sentence_index) == sentences_before - 2
    assert service.store.get_document("bread") is None
    result = service.ask("What is sourdough bread made of?", top_k=5)
    assert all(a.citation.doc_id != "bread" for a in result.answers)
    assert not service.remove("bread")


def test_restart_loads_the_index_without_re_embedding(service, settings, embedder):
    service.add_documents([TORCH, BREAD])
    expected = service.ask("Who carried the torch?").answer
    service.close()
    before = embedder.texts
    restarted = Verbatim(settings, embedder=embedder)
    restarted.warm_up()
    assert embedder.texts - before == 1  # the warm-up string only
    assert restarted.ask("Who carried the torch?").answer == expected
    assert restarted.store.counts()["documents"] == 2


def test_restart_without_clean_shutdown_rebuilds_vectors_from_the_store(service, settings,
                                                                        embedder):
    service.add_documents([TORCH])
    service.close()
    service.add_documents([BREAD])  # written after the FAISS files were saved: they are stale
    before = embedder.texts
    restarted = Verbatim(settings, embedder=embedder)
    restarted.warm_up()
    assert embedder.texts - before == 1
    assert len(restarted.indexer.sentence_index) == len(service.indexer.sentence_index)
    assert restarted.ask("What does sourdough bread need?").answers[0].citation.doc_id == "bread"


def test_a_failed_write_leaves_the_previous_index_intact(service, settings, embedder,
                                                        monkeypatch):
    service.add_documents([TORCH])
    store = service.store
    original = store.write_document
    calls = {"n": 0}

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            original(*args, **kwargs)  # half of the batch is written before the crash
            raise RuntimeError("simulated crash mid-write")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "write_document", crash_on_second)
    changed_torch = make_document("The torch was lost in space.", doc_id="torch", title="Torch")
    with pytest.raises(RuntimeError):
        service.add_documents([BREAD, changed_torch])
    monkeypatch.undo()
    # Neither document of the failed batch is visible, on disk or in memory.
    assert [d.doc_id for d in store.list_documents()] == ["torch"]
    assert store.get_document("torch").text == TORCH.text
    restarted = Verbatim(settings, embedder=embedder)
    restarted.warm_up()
    assert len(restarted.indexer.sentence_index) == len(service.indexer.sentence_index)
    assert restarted.ask("Who carried the torch?").answers[0].citation.doc_id == "torch"


def test_a_corrupt_faiss_file_is_rebuilt_from_the_store(service, settings, embedder):
    service.add_documents([TORCH, BREAD])
    service.close()
    (settings.data_dir / "sentences.faiss").write_bytes(b"garbage")
    restarted = Verbatim(settings, embedder=embedder)
    restarted.warm_up()
    assert restarted.ask("Who carried the torch?").answers[0].citation.doc_id == "torch"


def test_a_model_change_is_detected_and_rebuild_fixes_it(service):
    service.add_documents([TORCH])
    service.store.set_meta("model", json.dumps({"model": "some-other-model", "input": "x"}))
    assert "some-other-model" in service.health()["detail"]
    with pytest.raises(ModelMismatch, match="rebuild"):
        service.ask("Who carried the torch?")
    with pytest.raises(ModelMismatch):
        service.add_documents([BREAD])
    assert service.rebuild() == 1
    assert service.health()["status"] == "ok"
    assert service.ask("Who carried the torch?").answers[0].citation.doc_id == "torch"


@pytest.mark.slow
def test_seeds_are_indexed_once(service, embedder):
    assert service.ensure_seeded() is not None
    assert service.store.counts()["documents"] == 5
    service.remove("001_861573c47f2477df")
    assert service.ensure_seeded() is None  # a removed seed stays removed
    assert service.store.counts()["documents"] == 4


def test_questions_are_answered_while_documents_change(service):
    import threading

    service.add_documents([TORCH])
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for i in range(6):
                doc = make_document(f"Version {i}: sourdough needs flour, water and time.",
                                    doc_id="bread", title="Bread")
                service.add_documents([doc])
                service.remove("bread")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    answers = 0
    while not done.is_set() or answers < 5:
        result = service.ask("Who carried the torch?")
        assert result.answers[0].citation.doc_id == "torch"
        answers += 1
    thread.join()
    assert not errors
    assert [d.doc_id for d in service.store.list_documents()] == ["torch"]


def test_a_second_process_writing_is_picked_up(service, settings, embedder):
    service.add_documents([TORCH])
    assert service.ask("Who carried the torch?").answers[0].citation.doc_id == "torch"
    other = Verbatim(settings, embedder=embedder)  # e.g. `qa add` while `qa serve` runs
    other.warm_up()
    other.add_documents([BREAD])
    assert service.ask("What does sourdough bread need?").answers[0].citation.doc_id == "bread"
    other.remove("torch")
    result = service.ask("Who carried the torch?", top_k=5)
    assert all(a.citation.doc_id != "torch" for a in result.answers)
    # Writes from both sides keep both views whole.
    service.add_documents([TORCH])
    other.indexer.refresh()
    assert len(other.indexer.sentence_index) == len(service.indexer.sentence_index) == 4
    other.close()
    restarted = Verbatim(settings, embedder=embedder)
    restarted.warm_up()
    assert len(restarted.indexer.sentence_index) == 4


@pytest.mark.slow
def test_a_large_index_switches_to_approximate_search_and_keeps_answering(tmp_path, embedder):
    from bench.harness import make_doc
    from qa.config import Settings

    settings = Settings(data_dir=tmp_path / "big", approximate_above=200, nprobe=64)
    service = Verbatim(settings, embedder=embedder)
    service.warm_up()
    docs = [make_document(**make_doc(f"c{i}", sentences=20)) for i in range(12)]
    service.add_documents(docs[:6])
    assert not service.indexer.sentence_index.approximate  # 120 sentences: exact
    service.add_documents(docs[6:] + [TORCH])
    assert service.indexer.sentence_index.approximate  # past 200: clustered
    assert service.ask("Who carried the torch during the spacewalk?").answers[0].citation \
        .doc_id == "torch"
    assert service.remove("torch") and service.store.get_document("torch") is None
    assert all(a.citation.doc_id != "torch" for a in service.ask("Who carried the torch?",
                                                                 top_k=5).answers)
    service.close()
    restarted = Verbatim(settings, embedder=embedder)
    restarted.warm_up()
    assert restarted.indexer.sentence_index.approximate
    assert len(restarted.indexer.sentence_index) == restarted.store.counts()["sentences"]


@pytest.mark.slow
def test_the_article_is_quoted_before_a_reader_comment_saying_the_same(service):
    page = ("Rocket report\n\nThe launch was delayed twice by high winds over the coast. "
            "A new weather satellite rode the rocket to orbit on Tuesday. Engineers said the "
            "second stage performed as planned. The next launch is set for March.\n\n"
            "  • orbitfan\n\n    So the rocket carried a weather satellite into orbit, what a "
            "sight that was.\n")
    service.add_paths([DEFAULT_SEEDS_DIR])
    service.add_documents([make_document(page, doc_id="report", title="Rocket report")])
    result = service.ask("What did the rocket carry into orbit?", top_k=2)
    assert result.answer == "A new weather satellite rode the rocket to orbit on Tuesday."


def test_a_data_dir_from_before_comments_were_recorded_still_opens(tmp_path):
    import sqlite3

    from qa.storage.sqlite import Store

    db = tmp_path / "old"
    db.mkdir()
    conn = sqlite3.connect(db / "verbatim.sqlite3")
    conn.execute("CREATE TABLE sentences (id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT "
                 "NULL, ord INTEGER NOT NULL, passage_ord INTEGER NOT NULL, start INTEGER NOT "
                 "NULL, end INTEGER NOT NULL, text TEXT NOT NULL, candidate INTEGER NOT NULL, "
                 "vector BLOB)")
    conn.execute("INSERT INTO sentences (doc_id, ord, passage_ord, start, end, text, candidate) "
                 "VALUES ('d', 0, 0, 0, 5, 'Hello', 1)")
    conn.commit()
    conn.close()
    [row] = Store(db).quotable_sentences()
    assert row.text == "Hello" and row.comment is False


def test_the_in_memory_catalog_follows_adds_updates_and_deletes(service):
    from qa.indexing.catalog import Catalog

    service.add_documents([TORCH, BREAD])
    service.add_documents([make_document(BREAD.text + " Rye flour makes it darker.",
                                         doc_id="bread", title="Rye bread")])
    service.remove("torch")
    fresh = Catalog()
    fresh.load(service.store)
    followed = service.indexer.catalog
    everything = range(1, 100)
    assert followed.sentences(everything) == fresh.sentences(everything)
    assert [r.text for r in followed.sentences(everything).values()][-1] == \
        "Rye flour makes it darker."
    assert followed.titles(["torch", "bread"]) == fresh.titles(["torch", "bread"]) == \
        {"bread": "Rye bread"}
    assert followed.sentences_of_passages(everything) == fresh.sentences_of_passages(everything)
    assert followed.passage("torch", 0) is None and followed.passage("bread", 0) is not None


def test_a_page_is_found_by_its_name_while_the_name_is_its_own(service):
    catalog = service.indexer.catalog
    service.add_documents([make_document("New in version 2.1. The hoist module lowers cargo.",
                                         doc_id="hoist", title="hoist — cargo lifting")])
    lead = catalog.sentences([catalog.page_lead("hoist")]).popitem()[1]
    assert lead.text == "The hoist module lowers cargo."  # not the version note
    service.add_documents([make_document("The hoist module lifts boats too.", doc_id="hoist-2",
                                         title="Hoist")])
    assert catalog.page_lead("hoist") is None  # two pages now share the name
    service.remove("hoist-2")
    assert catalog.page_lead("hoist") == lead.id


def test_the_catalog_gives_the_sentence_said_next(service):
    catalog = service.indexer.catalog
    service.add_documents([make_document(
        "Keys are coerced to strings. As a result, a round trip may change them. "
        "Other modules keep integer keys as they are.",
        doc_id="json", title="json")])
    rows = sorted(catalog.sentences(range(1, 100)).values(), key=lambda r: r.ord)
    assert [catalog.next_said(r) for r in rows] == [
        "As a result, a round trip may change them.",
        "Other modules keep integer keys as they are.", ""]


def test_question_words_meet_sentence_words_by_meaning_and_keep_their_vectors(service, settings,
                                                                              embedder):
    from qa.answering.retrieval import Query

    docs = [make_document("The torch relay began in Moscow on a cold Monday.", doc_id="relay",
                          title="Relay"),
            make_document("The winter games start in February.", doc_id="games", title="Games"),
            make_document("Rye bread is baked with caraway seeds.", doc_id="bread", title="Bread")]
    service.add_documents(docs)

    def closeness() -> dict[str, float]:
        with service.retriever.retrieve(Query("When did the relay start?")) as (_, found):
            pass
        column = found.meaning_terms.index("start")
        return {r.doc_id: float(found.meaning[i, column]) for i, r in enumerate(found.rows)}

    close = closeness()
    assert close["games"] == pytest.approx(1.0)  # the word itself
    assert close["relay"] > close["bread"] + 0.2  # "began" means what "start" asks about
    # Stored with their sentences: a restart reads them back, a rebuild embeds them again.
    service.close()
    before = embedder.texts
    service = Verbatim(settings, embedder=embedder)
    service.warm_up()
    assert embedder.texts - before == 1  # the warm-up string only: no word embedded again
    assert closeness() == pytest.approx(close)
    service.rebuild()
    assert closeness() == pytest.approx(close, abs=1e-4)


def test_a_rebuild_stopped_midway_goes_on_from_where_it_stopped(settings, embedder,
                                                               monkeypatch):
    small = Verbatim(settings.model_copy(update={"add_batch_chars": 1}), embedder=embedder)
    small.warm_up()
    small.add_documents([TORCH, BREAD])
    staged_batches = {"n": 0}
    put = Staging.put

    def killed_after_one_batch(self, *args, **kwargs):
        if staged_batches["n"] == 1:
            raise KeyboardInterrupt  # as Ctrl-C would, after the first batch was staged
        staged_batches["n"] += 1
        put(self, *args, **kwargs)

    monkeypatch.setattr(Staging, "put", killed_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        small.rebuild()
    assert small.ask("Who carried the torch?").answers[0].citation.doc_id == "torch"  # old index
    assert (settings.data_dir / STAGING_NAME).exists()
    monkeypatch.setattr(Staging, "put", put)
    before = embedder.texts
    assert small.rebuild() == 2
    again = embedder.texts - before
    whole = model_inputs([TORCH, BREAD], small.settings)
    one_doc = max(len(model_inputs([d], small.settings).texts) +
                  len(model_inputs([d], small.settings).words) for d in (TORCH, BREAD))
    assert 0 < again <= one_doc < len(whole.texts) + len(whole.words)  # one batch, not two
    assert not (settings.data_dir / STAGING_NAME).exists()
    assert small.ask("What does sourdough bread need?").answers[0].citation.doc_id == "bread"
    assert small.ask("Who carried the torch?").answers[0].citation.doc_id == "torch"


def test_context_vectors_embed_each_heading_path_once_and_still_answer(settings, embedder):
    doc = parse_document(b"# Harbour guide\n\n## Fees\n\nDinghies pay five euros a night. "
                         b"Yachts pay twenty euros a night.\n\n## Lights\n\nThe keeper lights "
                         b"the lamp at dusk. The lamp burns until dawn.\n", "guide.md")
    mixed = settings.model_copy(update={"context_vectors": True})
    whole, split = model_inputs([doc], settings), model_inputs([doc], mixed)
    assert "Harbour guide › Fees: Dinghies pay five euros a night." in whole.texts
    assert "Dinghies pay five euros a night." in split.texts
    paths = [split.texts[i] for i in sorted(set(split.contexts[0]))]
    assert paths == ["Harbour guide › Fees", "Harbour guide › Lights"]  # once each
    service = Verbatim(mixed, embedder=embedder)
    service.add_documents([doc])
    assert "context" in service.indexer.model_fingerprint
    assert service.ask("How much does a yacht pay per night?").answer == \
        "Yachts pay twenty euros a night."


def test_context_vectors_come_close_to_embedding_each_sentence_with_its_headings(settings,
                                                                                  embedder):
    # A real manual page: sentences under definition terms and sections of every length.
    page = Path(__file__).parent.parent / "data" / "pages" / "postgresql-resource-consumption.html"
    doc = parse_document(page.read_bytes(), page.name)
    whole = model_inputs([doc], settings)
    fast = settings.model_copy(update={"context_vectors": True, "derive_passages": True})
    split = model_inputs([doc], fast)
    (a, b, c), (a2, b2, _) = whole.bounds[0], split.bounds[0]
    joint = embedder.encode(whole.texts[a:b])  # "title › section: sentence", as shipped
    read = embedder.encode(whole.texts[b:c])  # each passage read whole
    vectors = embedder.encode(split.texts)
    sentences, passages = document_vectors(split, vectors, fast)[0]
    plain = vectors[a2:b2] + vectors[split.contexts[0]]  # the sum, unweighted
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)
    fidelity = float(np.mean(np.sum(sentences * joint, axis=1)))
    assert fidelity > 0.92 and fidelity > float(np.mean(np.sum(plain * joint, axis=1)))
    # Passages: composed from the sentences and their path, close to the passage read whole.
    assert len(passages) == len(read)
    kept = [i for i, rows in enumerate(split.members[0]) if rows]
    assert float(np.mean(np.sum(passages[kept] * read[kept], axis=1))) > 0.9
