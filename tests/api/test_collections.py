"""Collections, tags and key-values on documents, and filters in every query path of the API."""

from __future__ import annotations

import json

import openai
import pytest

NOTES = [
    {"doc_id": f"ops-{i}", "title": f"Operations note {i}",
     "text": f"The backup of server {i} runs every night at {i} past midnight. "
             f"Its disks are checked weekly.", "collection": "ops", "tags": ["it"],
     "meta": {"year": 2020 + i % 4}}
    for i in range(12)
]
HANDBOOK = {"doc_id": "handbook", "title": "Staff handbook", "collection": "handbook",
            "tags": ["hr"], "meta": {"year": 2024, "published": "2024-03-01"},
            "text": "The backup of your laptop is your own responsibility. Lunch is served "
                    "until two in the afternoon."}


@pytest.fixture
def filed(client):
    """An app holding a handbook and a dozen operations notes."""
    response = client.post("/v1/documents", json={"documents": [HANDBOOK, *NOTES]})
    assert response.status_code == 200, response.text
    return client


def cited(body: dict) -> set[str]:
    """The documents an answer cites."""
    return {a["citation"]["doc_id"] for a in body["answers"]}


def test_a_filter_keeps_its_best_answer_however_few_documents_it_keeps(filed):
    everything = filed.post("/v1/answer", json={"question": "Who is responsible for backups?",
                                                 "top_k": 5}).json()
    fenced = filed.post("/v1/answer", json={"question": "Who is responsible for backups?",
                                             "top_k": 5, "collection": "handbook"}).json()
    assert cited(fenced) == {"handbook"}
    assert fenced["answers"][0]["text"] == "The backup of your laptop is your own responsibility."
    ops = filed.post("/v1/answer", json={"question": "When does the backup run?", "top_k": 5,
                                          "filter": {"year": {"gte": 2023}}}).json()
    years = {n["doc_id"]: n["meta"]["year"] for n in NOTES} | {"handbook": 2024}
    assert ops["answers"] and all(years[d] >= 2023 for d in cited(ops))
    assert cited(everything) != cited(fenced)


def test_chat_and_the_openai_endpoint_take_the_same_filters(filed):
    chat = filed.post("/v1/chat", json={"messages": [{"role": "user", "content":
                                                       "When is lunch served?"}],
                                        "filter": {"tags": {"in": ["it"]}}}).json()
    assert cited(chat["answer"]) <= {n["doc_id"] for n in NOTES}
    models = [m["id"] for m in filed.get("/v1/models").json()["data"]]
    assert models == ["verbatim", "verbatim:handbook", "verbatim:ops"]
    sdk = openai.OpenAI(base_url=str(filed.base_url) + "/v1", api_key="none",
                        http_client=filed)
    reply = sdk.chat.completions.create(
        model="verbatim:handbook", messages=[{"role": "user", "content": "When is lunch?"}])
    assert "two in the afternoon" in reply.choices[0].message.content
    fenced = sdk.chat.completions.create(
        model="verbatim", metadata={"filter": json.dumps({"collection": "ops"})},
        messages=[{"role": "user", "content": "When is lunch?"}])
    assert "two in the afternoon" not in fenced.choices[0].message.content
    with pytest.raises(openai.BadRequestError, match="no collection 'hr'"):
        sdk.chat.completions.create(model="verbatim", metadata={"collection": "hr"},
                                    messages=[{"role": "user", "content": "When is lunch?"}])


@pytest.mark.parametrize("body,reason", [
    ({"collection": "handbok"}, "no collection 'handbok'; collections: handbook, ops"),
    ({"filter": {"yeer": 2024}}, "unknown field 'yeer'"),
    ({"filter": {"tags": "finance"}}, "no document is tagged 'finance'; tags: hr, it"),
    ({"filter": {"year": 2019}}, "no document has year = 2019; year: 2020, 2021, 2022, 2023, 2024"),
    ({"filter": {"year": {"gte": "soon"}}}, "a range bound is a number or an ISO date"),
    ({"filter": {"or": []}}, "\"or\" takes a non-empty list"),
    ({"filter": {"year": {"about": 3}}}, "use a value"),
])
def test_a_filter_naming_what_does_not_exist_is_refused_with_what_does(filed, body, reason):
    response = filed.post("/v1/answer", json={"question": "When is lunch?", **body})
    assert response.status_code == 422 and reason in response.json()["detail"]


def test_documents_carry_their_metadata_from_json_and_from_form_uploads(filed):
    listed = filed.get("/v1/documents").json()
    assert listed["collections"] == ["handbook", "ops"]
    handbook = filed.get("/v1/documents/handbook").json()["metadata"]
    assert handbook == {"collection": "handbook", "tags": ["hr"],
                        "fields": {"published": "2024-03-01", "year": 2024}}
    only = filed.get("/v1/documents", params={"collection": "handbook"}).json()["documents"]
    assert [d["doc_id"] for d in only] == ["handbook"]
    tagged = filed.get("/v1/documents", params={"tag": "it"}).json()["documents"]
    assert len(tagged) == len(NOTES)
    upload = filed.post("/v1/documents", files=[("files", ("memo.txt", b"Desks are cleaned "
                                                           b"on Fridays.", "text/plain"))],
                        data={"collection": "handbook", "tags": "facilities, hr",
                              "meta": json.dumps({"floor": 3})})
    assert upload.status_code == 200, upload.text
    memo = filed.get("/v1/documents/memo").json()["metadata"]
    assert memo == {"collection": "handbook", "tags": ["facilities", "hr"],
                    "fields": {"floor": 3}}


@pytest.mark.parametrize("document,reason", [
    ({"text": "x y z.", "collection": "has space"}, "collection 'has space'"),
    ({"text": "x y z.", "meta": {"collection": "x"}}, "field 'collection' is reserved"),
    ({"text": "x y z.", "meta": {"n": True}}, "documents.0.meta.n"),
])
def test_bad_metadata_is_refused_and_nothing_is_added(client, document, reason):
    response = client.post("/v1/documents", json={"documents": [document]})
    assert response.status_code == 422 and reason in response.text
    assert client.get("/v1/documents").json()["documents"] == []
