"""The HTTP contract scripts rely on, and clear 4xx answers to bad input."""

from __future__ import annotations

import json
import re

import pytest

from bench.harness import pdf_with_text


def test_answer_contract(seeded_client, seeded):
    r = seeded_client.post("/v1/answer", json={"question": "How long will the torch relay last?",
                                               "top_k": 2})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"question", "answer", "confidence", "abstained", "answers", "band"}
    assert body["abstained"] is False and "four months" in body["answer"]
    settings = seeded.settings  # the band follows the confidence, by the documented thresholds
    assert body["band"] == ("confident" if body["confidence"] >= settings.confident_above
                            else "possible")
    assert 1 <= len(body["answers"]) <= 2
    first = body["answers"][0]
    assert first["text"] == body["answer"]
    c = first["citation"]
    assert {"doc_id", "title", "passage_id", "start", "end", "passage"} <= set(c)
    doc = seeded_client.get(f"/v1/documents/{c['doc_id']}").json()
    assert doc["text"][c["start"]:c["end"]] == first["text"]
    assert first["text"] in c["passage"]


def test_off_topic_answer_is_null(seeded_client):
    body = seeded_client.post("/v1/answer", json={"question": "Who painted the Mona Lisa?"}).json()
    assert body["answer"] is None and body["abstained"] is True and body["band"] == "none"


def test_chat_understands_a_follow_up(seeded_client):
    first = seeded_client.post("/v1/chat", json={"messages": [
        {"role": "user", "content": "Who will bring the torch back to Earth?"}]}).json()
    assert first["message"]["role"] == "assistant"
    assert first["message"]["content"] == first["answer"]["answer"]
    second = seeded_client.post("/v1/chat", json={"messages": [
        {"role": "user", "content": "Who will bring the torch back to Earth?"},
        first["message"],
        {"role": "user", "content": "What will he do with it after landing?"}]}).json()
    assert "representatives of Sochi 2014" in second["answer"]["answer"] or \
        "hand it over" in second["answer"]["answer"]


def test_documents_lifecycle_over_http(client):
    assert client.get("/v1/documents").json()["documents"] == []
    r = client.post("/v1/documents", json={"documents": [
        {"doc_id": "launch", "title": "Launch", "text": "The rocket launched from Baikonur. "
                                                       "It carried three astronauts."}]})
    assert r.status_code == 200 and r.json()["added"] == ["launch"]
    docs = client.get("/v1/documents").json()["documents"]
    assert docs[0]["doc_id"] == "launch" and docs[0]["sentences"] == 2
    answer = client.post("/v1/answer", json={"question": "Where did the rocket launch from?"})
    assert answer.json()["answers"][0]["citation"]["doc_id"] == "launch"
    upload = client.post("/v1/documents", files=[
        ("files", ("notes.md", b"# Notes\n\nThe mascot was a polar bear in a blue scarf.",
                   "text/markdown")),
        ("files", ("report.pdf", pdf_with_text("The torch will light the cauldron in February."),
                   "application/pdf"))])
    assert upload.status_code == 200, upload.text
    assert sorted(upload.json()["added"]) == ["notes", "report"]
    answer = client.post("/v1/answer", json={"question": "What animal was the mascot?"}).json()
    assert answer["answers"][0]["citation"]["doc_id"] == "notes"
    assert client.delete("/v1/documents/notes").status_code == 200
    assert client.get("/v1/documents/notes").status_code == 404
    assert client.delete("/v1/documents/notes").status_code == 404
    rebuilt = client.post("/v1/index/rebuild")
    assert rebuilt.status_code == 200 and rebuilt.json() == {"documents": 2}
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 2
    assert health["model"] == "all-MiniLM-L6-v2"


def test_doc_ids_with_hash_work_in_urls(client):
    client.post("/v1/documents", json={"documents": [
        {"doc_id": "Super_Bowl_50#3", "text": "The game was played in Santa Clara."}]})
    assert client.get("/v1/documents/Super_Bowl_50%233").json()["doc_id"] == "Super_Bowl_50#3"


@pytest.mark.parametrize("payload", [
    {}, {"question": ""}, {"question": "   "}, {"question": 42}, {"question": "x" * 5000},
    {"question": "ok", "top_k": 0}, {"question": "ok", "top_k": 1000},
    {"question": "a\x00b"}, {"question": "ok", "extra": 1},
])
def test_bad_questions_get_422_with_a_reason(seeded_client, payload):
    r = seeded_client.post("/v1/answer", json=payload)
    assert r.status_code == 422
    assert r.json()["detail"]


@pytest.mark.parametrize("payload", [
    {"messages": []}, {"messages": [{"role": "assistant", "content": "hi"}]},
    {"messages": [{"role": "system", "content": "hi"}]},
    {"messages": [{"role": "user", "content": " "}]},
])
def test_bad_conversations_get_422(seeded_client, payload):
    assert seeded_client.post("/v1/chat", json=payload).status_code == 422


def test_non_json_body_gets_4xx(client):
    r = client.post("/v1/answer", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/documents", content=b"{broken", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    r = client.post("/v1/documents", content=b"text", headers={"content-type": "text/plain"})
    assert r.status_code == 415


@pytest.mark.parametrize("docs,status", [
    ([{"text": ""}], 422), ([{"text": "   "}], 422), ([], 422),
    ([{"doc_id": "../x", "text": "Some text."}], 422),
    ([{"doc_id": "a/b", "text": "Some text."}], 422),
])
def test_bad_documents_are_refused_and_nothing_is_lost(client, docs, status):
    client.post("/v1/documents", json={"documents": [{"doc_id": "keep", "text": "Keep me."}]})
    r = client.post("/v1/documents", json={"documents": docs})
    assert r.status_code == status and r.json()["detail"]
    assert [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]] == ["keep"]


def test_bad_uploads_are_refused(client):
    r = client.post("/v1/documents", files=[("files", ("x.pdf", b"\x89random bytes", "application/pdf"))])
    assert r.status_code == 422 and "x.pdf" in r.json()["detail"]
    r = client.post("/v1/documents", files=[("files", ("x.exe", b"MZ", "application/octet-stream"))])
    assert r.status_code == 422 and "unsupported" in r.json()["detail"]
    r = client.post("/v1/documents", files=[("other", ("x.txt", b"hello there", "text/plain"))])
    assert r.status_code == 422


def test_openapi_and_page_are_served(seeded_client):
    schema = seeded_client.get("/openapi.json").json()
    assert "/v1/answer" in schema["paths"] and "/v1/chat" in schema["paths"]
    # Every reference into components resolves (clients and /docs break on a dangling one).
    refs = re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema))
    assert refs and all(name in schema["components"]["schemas"] for name in refs)
    upload = schema["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(upload)
    page = seeded_client.get("/")
    assert page.status_code == 200 and "<textarea" in page.text
    icon = seeded_client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert seeded_client.get("/v1/documents").json()["writes"] == "open"  # loopback, no key


def test_the_original_file_is_served_as_it_came(client):
    from tests.reading.test_office import word_file

    pdf = pdf_with_text("The lighthouse keeper lit the lamp at dusk.", "Lamp")
    page = (b"<html><head><link rel='canonical' href='https://example.org/lamp'>"
            b"<script>alert(1)</script></head><body><p id='dusk'>The keeper lit the lamp at "
            b"dusk.</p></body></html>")
    files = [("files", ("lamp.pdf", pdf, "application/pdf")),
             ("files", ("lamp page.html", page, "text/html")),
             ("files", ("log.docx", word_file(), "application/octet-stream"))]
    assert client.post("/v1/documents", files=files).status_code == 200
    r = client.get("/v1/documents/lamp/original")
    assert r.status_code == 200 and r.content == pdf
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('inline; filename="lamp.pdf"')
    r = client.get("/v1/documents/lamp-page/original")
    assert r.content == page and "sandbox" in r.headers.get_list("content-security-policy")
    assert client.get("/v1/documents/lamp-page").json()["url"] == "https://example.org/lamp"
    r = client.get("/v1/documents/log/original")
    assert r.headers["content-disposition"].startswith("attachment;")
    client.post("/v1/documents", json={"documents": [{"doc_id": "typed", "text": "Typed in."}]})
    r = client.get("/v1/documents/typed/original")
    assert r.status_code == 404 and "sent as text" in r.json()["detail"]
    assert client.delete("/v1/documents/lamp").status_code == 200
    assert client.get("/v1/documents/lamp/original").status_code == 404


def test_a_json_document_may_name_its_web_address(client):
    ok = client.post("/v1/documents", json={"documents": [
        {"doc_id": "w", "text": "The ferry leaves at noon.", "url": "https://example.org/f"}]})
    assert ok.status_code == 200
    assert client.get("/v1/documents/w").json()["url"] == "https://example.org/f"
    bad = client.post("/v1/documents", json={"documents": [
        {"doc_id": "v", "text": "The ferry leaves at noon.", "url": "javascript:alert(1)"}]})
    assert bad.status_code == 422 and "web address" in bad.json()["detail"]
