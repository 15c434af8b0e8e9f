"""Hostile input: every request gets the right 4xx with a reason, or a correct 200; never a 5xx."""

from __future__ import annotations

import os

import pytest

from api.schemas import MAX_DOCUMENTS_PER_REQUEST
from bench.harness import pdf_bomb, pdf_with_text
from tests.conftest import LOCAL

JSON = {"content-type": "application/json"}
KEEP = {"documents": [{"doc_id": "keep", "title": "Keeper",
                       "text": "The lighthouse keeper lit the lamp every night at dusk."}]}

QUESTIONS = {
    "empty": ({"question": ""}, 422),
    "blank": ({"question": " \n\t "}, 422),
    "nul": ({"question": "who\x00lit the lamp"}, 422),
    "100k characters": ({"question": "lamp " * 20_000}, 422),
    "2 MB body": ({"question": "x" * 2_000_000}, 413),
    "number": ({"question": 42}, 422),
    "null": ({"question": None}, 422),
    "list": ({"question": ["who lit the lamp?"]}, 422),
    "missing": ({}, 422),
    "extra field": ({"question": "Who lit the lamp?", "admin": True}, 422),
    "top_k zero": ({"question": "Who lit the lamp?", "top_k": 0}, 422),
    "top_k huge": ({"question": "Who lit the lamp?", "top_k": 10**12}, 422),
    "top_k string": ({"question": "Who lit the lamp?", "top_k": "3"}, 422),
    "top_k bool": ({"question": "Who lit the lamp?", "top_k": True}, 422),
    "top_k float": ({"question": "Who lit the lamp?", "top_k": 2.5}, 422),
    "chinese": ({"question": "灯塔看守人什么时候点灯？"}, 200),
    "arabic": ({"question": "متى أشعل حارس المنارة المصباح؟"}, 200),
    "hindi": ({"question": "प्रकाशस्तंभ रक्षक ने दीपक कब जलाया?"}, 200),
    "russian": ({"question": "Когда смотритель маяка зажигал лампу?"}, 200),
    "emoji": ({"question": "🔦🌙❓"}, 200),
    "zero-width and RTL marks": ({"question": "\u202ewho\u200b lit\u0301 the lamp"}, 200),
    "fts syntax": ({"question": '"lamp" OR NEAR(a b) * AND NOT title:*'}, 200),
    "sql": ({"question": "'; DROP TABLE documents; --"}, 200),
}


@pytest.mark.parametrize("payload,status", QUESTIONS.values(), ids=QUESTIONS.keys())
def test_hostile_questions(client, payload, status):
    client.post("/v1/documents", json=KEEP)
    r = client.post("/v1/answer", json=payload)
    assert r.status_code == status, r.text
    body = r.json()
    if status == 200:
        assert body["abstained"] == (body["answer"] is None)
        for answer in body["answers"]:
            doc = client.get(f"/v1/documents/{answer['citation']['doc_id']}").json()
            assert doc["text"][answer["citation"]["start"]:answer["citation"]["end"]] == \
                answer["text"]
    else:
        assert isinstance(body["detail"], str) and body["detail"]
    if set(payload) <= {"question", "top_k"}:  # the same question as a conversation
        chat = client.post("/v1/chat", json={
            "messages": [{"role": "user", "content": payload.get("question")}],
            **{k: v for k, v in payload.items() if k == "top_k"}})
        assert chat.status_code == status, chat.text[:300]


RAW_BODIES = {
    "not json": (b"who lit the lamp", JSON, 422),
    "truncated json": (b'{"question": "who', JSON, 422),
    "empty body": (b"", JSON, 422),
    "json array": (b'["who lit the lamp"]', JSON, 422),
    "lone surrogate": (b'{"question": "lamp \\ud800"}', JSON, 422),
    "binary": (os.urandom(4096), JSON, (400, 422)),  # 400 when it is not even text
    "form instead of json": (b"question=who", {"content-type": "application/x-www-form-urlencoded"},
                             422),
    "bogus length": (b'{"question": "x"}', {**JSON, "content-length": "99999999999"}, 413),
}


@pytest.mark.parametrize("content,headers,status", RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_hostile_raw_bodies(client, content, headers, status):
    for path in ("/v1/answer", "/v1/chat"):
        r = client.post(path, content=content, headers=headers)
        assert r.status_code in (status if isinstance(status, tuple) else (status,)), r.text
        assert r.json()["detail"]


DOCUMENTS = {
    "empty text": ({"documents": [{"text": ""}]}, 422),
    "blank text": ({"documents": [{"text": " \n "}]}, 422),
    "no documents": ({"documents": []}, 422),
    "too many documents": ({"documents": [{"text": f"Text number {i} is here."}
                                          for i in range(MAX_DOCUMENTS_PER_REQUEST + 1)]}, 422),
    "text is a number": ({"documents": [{"text": 7}]}, 422),
    "text is an object": ({"documents": [{"text": {"a": 1}}]}, 422),
    "documents is a string": ({"documents": "text"}, 422),
    "unknown field": ({"documents": [{"text": "Hello there, reader.", "path": "/etc"}]}, 422),
    "id with dots": ({"documents": [{"doc_id": "../../etc/passwd", "text": "Owned, friend."}]}, 422),
    "absolute id": ({"documents": [{"doc_id": "/etc/passwd", "text": "Owned, friend."}]}, 422),
    "backslash id": ({"documents": [{"doc_id": "..\\..\\win.ini", "text": "Owned, friend."}]}, 422),
    "dot id": ({"documents": [{"doc_id": ".", "text": "Owned, friend."}]}, 422),
    "hidden id": ({"documents": [{"doc_id": ".ssh", "text": "Owned, friend."}]}, 422),
    "nul id": ({"documents": [{"doc_id": "a\x00b", "text": "Owned, friend."}]}, 422),
    "newline id": ({"documents": [{"doc_id": "a\nb", "text": "Owned, friend."}]}, 422),
    "long id": ({"documents": [{"doc_id": "x" * 201, "text": "Owned, friend."}]}, 422),
    "10M+ characters": ({"documents": [{"text": "a" * 10_000_001}]}, 422),
    "unicode id and text": ({"documents": [{"doc_id": "北京-Москва-القاهرة", "title": "Städte",
                                           "text": "Beijing, Moscow and Cairo are large "
                                                   "capitals. 北京是中国的首都。"}]}, 200),
    "nul in text": ({"documents": [{"doc_id": "nul", "text": "The keeper\x00 slept late today."}]},
                    200),
}


@pytest.mark.parametrize("payload,status", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_hostile_documents_never_lose_what_was_accepted(client, payload, status):
    client.post("/v1/documents", json=KEEP)
    r = client.post("/v1/documents", json=payload)
    assert r.status_code == status, r.text[:300]
    ids = {d["doc_id"] for d in client.get("/v1/documents").json()["documents"]}
    assert "keep" in ids
    if status != 200:
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]
        assert ids == {"keep"}
    else:
        for doc_id in r.json()["added"]:
            doc = client.get(f"/v1/documents/{doc_id}")
            assert doc.status_code == 200 and "\x00" not in doc.json()["text"]


def _upload(client, *files):
    """Post files in the multipart field `files`."""
    return client.post("/v1/documents", files=[("files", f) for f in files])


UPLOADS = {
    "random bytes named .pdf": ([("a.pdf", os.urandom(4096), "application/pdf")], 422),
    "truncated pdf": ([("b.pdf", b"%PDF-1.4\n1 0 obj\n<<", "application/pdf")], 422),
    "random bytes named .txt": ([("c.txt", b"\x00" + os.urandom(4096), "text/plain")], 422),
    "random bytes named .html": ([("d.html", b"\x00" + os.urandom(4096), "text/html")], 422),
    "empty file": ([("e.txt", b"", "text/plain")], 422),
    "whitespace file": ([("f.md", b"  \n\n ", "text/markdown")], 422),
    "html without text": ([("g.html", b"<html><script>x()</script></html>", "text/html")], 422),
    "executable": ([("h.exe", b"MZ\x90\x00", "application/octet-stream")], 422),
    "too many files": ([(f"{i}.txt", b"Some words in a file.", "text/plain")
                        for i in range(MAX_DOCUMENTS_PER_REQUEST + 1)], 413),
    "path-like file name": ([("../../etc/passwd.txt", b"Owned by nobody at all.", "text/plain")],
                            200),
    "utf-16 text": ([("u16.txt", "Tide tables were posted daily.".encode("utf-16"),
                      "text/plain")], 200),
    "latin-1 text": ([("l1.txt", "The café opened at nine.".encode("latin-1"), "text/plain")], 200),
}


@pytest.mark.parametrize("files,status", UPLOADS.values(), ids=UPLOADS.keys())
def test_hostile_uploads(client, files, status, tmp_path):
    client.post("/v1/documents", json=KEEP)
    r = _upload(client, *files)
    assert r.status_code == status, r.text[:300]
    ids = {d["doc_id"] for d in client.get("/v1/documents").json()["documents"]}
    if status != 200:
        assert ids == {"keep"} and r.json()["detail"]
    else:
        (added,) = r.json()["added"]
        assert "/" not in added and not added.startswith(".")
        assert client.get(f"/v1/documents/{added}").json()["text"].strip()


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(service):
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings = service.settings.model_copy(update={"max_request_mb": 0.01})
    with TestClient(create_app(settings, service=service, seed=False), base_url=LOCAL) as c:
        r = _upload(c, ("big.txt", b"word " * 5000, "text/plain"))
        assert r.status_code == 413 and "larger than" in r.json()["detail"]
        assert c.get("/v1/documents").json()["documents"] == []


@pytest.mark.parametrize("doc_id", ["..", "../../etc/passwd", "%2e%2e%2fsecret", "%00", "a\\b",
                                    "北京", "x" * 5000])
def test_path_like_ids_in_urls_are_just_missing_documents(client, doc_id):
    assert client.get(f"/v1/documents/{doc_id}").status_code == 404
    assert client.delete(f"/v1/documents/{doc_id}").status_code == 404


def test_a_pdf_whose_text_passes_the_limit_is_refused_without_extracting_it_all(
        client, monkeypatch):
    import qa.reading.documents

    monkeypatch.setattr(qa.reading.documents, "MAX_DOCUMENT_CHARS", 50_000)
    bomb = pdf_bomb(pages=400, chars_per_page=10_000)  # 4,000,000 characters of text
    assert len(bomb) < 100_000  # 60 times smaller than its text
    extracted = []
    from pypdf import PageObject

    real = PageObject.extract_text
    monkeypatch.setattr(PageObject, "extract_text",
                        lambda self, *a, **k: extracted.append(1) or real(self, *a, **k))
    r = client.post("/v1/documents", files=[("files", ("bomb.pdf", bomb, "application/pdf"))])
    assert r.status_code == 422 and "bomb.pdf" in r.json()["detail"], r.text
    assert "50,000 characters" in r.json()["detail"]
    assert len(extracted) <= 10  # stopped once past the limit, not after all 400 pages
    assert client.get("/v1/documents").json()["documents"] == []


def test_text_past_the_limit_is_refused_in_every_format(monkeypatch):
    import qa.reading.documents
    from qa.reading.documents import DocumentError
    from qa.reading.formats import parse_document

    monkeypatch.setattr(qa.reading.documents, "MAX_DOCUMENT_CHARS", 1_000)
    for name, data in (("a.txt", b"word " * 300), ("a.html", b"<p>word</p>" * 300),
                       ("a.md", b"# T\n\n" + b"word " * 300)):
        with pytest.raises(DocumentError, match="1,000 characters"):
            parse_document(data, name)
    assert parse_document(b"word " * 150, "ok.txt").text.startswith("word")


@pytest.mark.parametrize("error", [NotImplementedError, AssertionError, AttributeError,
                                   RecursionError])
def test_any_pdf_reader_failure_is_a_422_with_a_reason(client, monkeypatch, error):
    from pypdf import PageObject


    def broken(self, *args, **kwargs):
        raise error("crafted")

    monkeypatch.setattr(PageObject, "extract_text", broken)
    r = client.post("/v1/documents", files=[("files", ("odd.pdf", pdf_with_text("Some text."),
                                                       "application/pdf"))])
    assert r.status_code == 422 and "odd.pdf" in r.json()["detail"], r.text


def test_made_up_words_in_questions_are_not_remembered(client, monkeypatch):
    import qa.storage.sqlite

    client.post("/v1/documents", json=KEEP)
    store = client.app.state.verbatim.store
    monkeypatch.setattr(qa.storage.sqlite, "TERM_CACHE", 3)
    for n in range(20):
        junk = " ".join(f"zq{n}x{i}" for i in range(30))
        assert client.post("/v1/answer", json={"question": junk}).status_code == 200
    assert not any(term.startswith("zq") for _, term in store._term_rows)
    counts = store.row_counts("sentences", ["lamp", "keeper", "lighthouse", "dusk", "zzz"])
    assert counts == {"lamp": 1, "keeper": 1, "lighthouse": 1, "dusk": 1, "zzz": 0}
    # words that match are kept, the least recently asked dropped past the bound
    assert {t for _, t in store._term_rows} == {"keeper", "lighthouse", "dusk"}


def test_a_question_of_made_up_words_costs_a_bounded_reading_and_leaves_no_trace(client):
    from qa.text import words as text
    from qa.text.words import MAX_QUESTION_TERMS, question_terms

    client.post("/v1/documents", json=KEEP)
    words = [f"zk{i}q" for i in range(300)]
    assert question_terms("Who keeps the lamp " + " ".join(words)) == [
        "keeps", "lamp", *words[:MAX_QUESTION_TERMS - 2]]
    document_words = text.lemmas.cache_info().currsize
    for n in range(10):
        junk = " ".join(f"zz{n}w{i}" for i in range(300))[:2000]
        assert client.post("/v1/answer", json={"question": junk}).status_code == 200
    # The documents' word cache takes none of them (the questions' own is a small LRU).
    assert text.lemmas.cache_info().currsize == document_words


def test_rewriting_documents_leaves_no_analysis_of_their_old_sentences(client):
    from qa.answering import features
    from qa.text.words import near_duplicate_key

    client.post("/v1/documents", json=KEEP)
    catalog = client.app.state.verbatim.indexer.catalog
    old = [f"Keeper number {n} polished the brass lamp of the lighthouse {n} times."
           for n in range(40)]
    for version in range(2):
        text = " ".join(f"{s[:-1]} in round {version}." for s in old)
        doc = {"doc_id": "rounds", "title": "Rounds", "text": text}
        assert client.post("/v1/documents", json={"documents": [doc]}).status_code in (200, 201)
        asked = client.post("/v1/answer", json={"question": "How often was the brass lamp polished?"})
        assert asked.status_code == 200 and f"round {version}" in asked.json()["answers"][0]["text"]
    first = [t for t in features.traits if "in round 0" in t]
    latest = [t for t in features.traits if "in round 1" in t]
    assert latest and not first  # the rewritten sentences' analyses went with them
    assert not [t for t in near_duplicate_key if "in round 0" in t]
    assert not [t for t in catalog._sentence_words if "in round 0" in t]
    assert client.delete("/v1/documents/rounds").status_code in (200, 204)
    assert not [t for t in features.traits if "in round" in t]
    assert not [t for t in features.shapes if "in round" in t]


def test_the_served_model_reads_a_question_up_to_a_bound():
    from embeddings.onnx_model import QUESTION_TOKENS, OnnxEmbedder

    embedder = OnnxEmbedder(int8_queries=True)  # as `qa serve` runs it
    embedder.warm_up()
    assert embedder.backend == "onnx+int8-queries"
    start = "Who keeps the lamp of the old lighthouse? " + "zqx " * (QUESTION_TOKENS // 3 + 5)
    a, b = embedder.encode_queries([start + "the harbour at dusk", start + "a storm at sea"])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-6)  # nothing past the bound is read
    c, d = embedder.encode_queries(["Who keeps the lamp?", "Who keeps the lighthouse?"])
    assert float(c @ d) < 0.99  # while a short question is read whole


@pytest.mark.slow
def test_deleting_a_large_document_gives_its_disk_space_back(service, monkeypatch):
    import qa.storage.sqlite
    from qa.reading.documents import make_document

    monkeypatch.setattr(qa.storage.sqlite, "RECLAIM_MIN_BYTES", 200_000)
    service.add_documents([make_document("Keep this short note about the lamp.", "small")])
    service.add_documents([make_document("tide " * 200_000, "large")])  # 1 MB, few vectors
    full = service.store.disk_bytes()
    assert service.remove("large")
    assert service.store.disk_bytes() < full / 3
    assert service.ask("What note is kept?").answers[0].citation.doc_id == "small"


def test_deleting_a_missing_document_writes_nothing(client):
    client.post("/v1/documents", json=KEEP)
    store = client.app.state.verbatim.store
    generation = store.generation
    assert client.delete("/v1/documents/nothing-here").status_code == 404
    assert store.generation == generation
    assert client.delete("/v1/documents/keep").status_code == 200
    assert store.generation == generation + 1


@pytest.mark.slow
def test_chat_quotes_a_sentence_longer_than_a_message_may_be(client, monkeypatch):
    # A sentence this long scores low; never abstaining makes it the quoted reply.
    monkeypatch.setattr(client.app.state.verbatim.answerer, "abstain_below", 0.0)
    filler = " ".join(f"harbour{i % 50} wall" for i in range(2_400))  # ~25,000 characters
    text = f"The lighthouse keeper lit the amber lamp at dusk beside the {filler} gate"
    client.post("/v1/documents", json={"documents": [{"doc_id": "long", "text": text}]})
    question = "Who lit the amber lamp at dusk?"
    answer = client.post("/v1/answer", json={"question": question}).json()
    chat = client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}]})
    assert chat.status_code == 200, chat.text[:300]
    assert len(answer["answers"][0]["text"]) > 20_000
    body = chat.json()
    assert body["answer"]["answers"][0]["text"] == answer["answers"][0]["text"]
    assert not body["answer"]["abstained"]
    from qa.answering.conversation import reply_text

    assert body["message"]["content"] == reply_text(answer["answers"][0]["text"],
                                                    body["answer"]["band"])


def test_a_long_earlier_turn_adds_a_bounded_context_to_a_follow_up():
    from qa.answering.conversation import Turn, conversation_context

    long_turn = " ".join(f"word{i}" for i in range(4_000))  # ~36,000 characters
    context = conversation_context([Turn("user", f"Who lit the lamp {long_turn}?"),
                                    Turn("assistant", "The keeper."),
                                    Turn("user", "When did he do it?")])
    assert context.startswith("Who lit the lamp word0")
    assert len(context) <= 2000 and len(context.split()) <= 60


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"documents": [{"text": "x", "title": ' + b"9" * 5000 +
                                  b"}]}"], ids=["deeply nested", "5000-digit integer"])
def test_unreadable_json_documents_are_a_400_with_a_reason(client, body):
    r = client.post("/v1/documents", content=body, headers=JSON)
    assert r.status_code == 400 and "JSON" in r.json()["detail"], r.text[:200]


def test_one_request_never_silently_keeps_one_of_two_documents_sharing_an_id(client):
    r = client.post("/v1/documents", files=[
        ("files", ("notes.txt", b"Plain notes about the launch.", "text/plain")),
        ("files", ("notes'.txt", b"Other notes about the relay.", "text/plain"))])
    assert r.status_code == 422 and "'notes'" in r.json()["detail"], r.text
    r = client.post("/v1/documents", json={"documents": [
        {"doc_id": "same", "text": "One text."}, {"doc_id": "same", "text": "Another text."}]})
    assert r.status_code == 422 and "'same'" in r.json()["detail"], r.text
    assert client.get("/v1/documents").json()["documents"] == []


def test_every_response_carries_the_browser_security_headers(client):
    for r in (client.get("/"), client.get("/v1/documents"),
              client.post("/v1/answer", json={"question": ""})):
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_no_page_loads_scripts_from_outside(client):
    assert client.get("/docs").status_code == 404  # Swagger UI would come from a CDN
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    page = client.get("/").text
    assert "http://" not in page and "https://" not in page


def test_lines_of_one_character_cost_nothing_to_index(client):
    r = client.post("/v1/documents", files=[("files", ("lines.txt", b"x\n" * 20_000 +
                                                       b"The keeper lit the lamp at dusk.\n",
                                                       "text/plain"))])
    assert r.status_code == 200, r.text
    health = client.get("/healthz").json()
    assert health["sentences"] == 1 and health["passages"] == 1  # 1, not 6,667 passages


def test_text_of_very_short_lines_is_refused_before_any_embedding(client):
    r = client.post("/v1/documents", files=[("files", ("words.txt", b"ab\n" * 20_000,
                                                       "text/plain"))])
    assert r.status_code == 422 and "words.txt" in r.json()["detail"], r.text
    assert "very short lines" in r.json()["detail"]
    assert client.get("/v1/documents").json()["documents"] == []


@pytest.mark.slow
def test_html_is_read_in_memory_that_follows_its_text_not_its_markup():
    import tracemalloc

    from qa.reading.formats import parse_document

    tags = b"<div><p><b>ok</b><i></i><span></span></p></div>" * 40_000  # 2 MB, little text
    tracemalloc.start()
    try:
        doc = parse_document(tags, "tags.html")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert doc.text.count("ok") == 40_000
    assert peak < 30_000_000, f"{peak / 1e6:.0f} MB to read 2 MB of HTML"
    deep = b"<div>" * 200_000 + b"deep text" + b"</div>" * 200_000
    assert parse_document(deep, "deep.html").text == "deep text"


def test_an_rfc_2231_file_name_is_read(client):
    body = (b"--b\r\nContent-Disposition: form-data; name=\"files\"; "
            b"filename*=UTF-8''r%C3%A9sum%C3%A9%20notes.md\r\nContent-Type: text/markdown\r\n\r\n"
            b"# Notes\n\nThe keeper lit the lamp at dusk.\r\n--b--\r\n")
    r = client.post("/v1/documents", content=body,
                    headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 200, r.text
    doc = client.get("/v1/documents").json()["documents"][0]
    assert doc["doc_id"] == "resume-notes" and doc["source"] == "résumé notes.md"


def test_a_chunked_upload_past_the_limit_is_a_413(service):
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings = service.settings.model_copy(update={"max_request_mb": 0.01})

    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\n"
        for _ in range(40):
            yield b"word " * 200
        yield b"\r\n--b--\r\n"

    with TestClient(create_app(settings, service=service, seed=False), base_url=LOCAL) as c:
        r = c.post("/v1/documents", content=chunks(),
                   headers={"content-type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413 and "larger than" in r.json()["detail"], r.text


def test_a_pdf_drawing_one_stream_on_every_page_is_refused_before_extraction(monkeypatch):
    from pypdf import PageObject

    from qa.reading.documents import DocumentError
    from qa.reading.formats import parse_document

    extracted = []
    real = PageObject.extract_text
    monkeypatch.setattr(PageObject, "extract_text",
                        lambda self, *a, **k: extracted.append(1) or real(self, *a, **k))
    bomb = pdf_bomb(pages=3000, chars_per_page=40_000)  # 120 M characters, 230 KB
    with pytest.raises(DocumentError, match="MB of content"):
        parse_document(bomb, "bomb.pdf")
    bomb = pdf_bomb(pages=600, chars_per_page=20_000)  # 12 M characters: under that budget
    with pytest.raises(DocumentError, match="same content over and over"):
        parse_document(bomb, "bomb.pdf")
    assert not extracted

    assert parse_document(pdf_with_text("One ordinary page."), "ok.pdf").text == "One ordinary page."
