"""The OpenAI-compatible endpoints: what a chat front end or the `openai` SDK gets back."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.harness import running_server
from qa.answering.conversation import ABSTAIN_MESSAGE, reply_text
from tests.conftest import load_questions

COMPLETIONS = "/v1/chat/completions"


def ask(client, *messages: tuple[str, str], **extra) -> httpx.Response:
    """Send a conversation the way a chat front end does."""
    return client.post(COMPLETIONS, json={
        "model": "verbatim", **extra,
        "messages": [{"role": role, "content": content} for role, content in messages]})


def events(response: httpx.Response) -> list[dict | str]:
    """Read a server-sent event stream into its chunks (and the final `[DONE]`)."""
    out: list[dict | str] = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def sources_of(content: str) -> list[str]:
    """The numbered source lines under a reply."""
    return content.split("\n\nSources:\n", 1)[1].splitlines() if "\n\nSources:\n" in content \
        else []


def test_a_completion_quotes_what_the_answer_endpoint_quotes(seeded_client):
    question = load_questions()[0]["question"]
    direct = seeded_client.post("/v1/answer", json={"question": question}).json()
    r = ask(seeded_client, ("user", question))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "verbatim"
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    content = choice["message"]["content"]
    assert direct["answer"] and content.startswith(direct["answer"] + " [1]")
    best = direct["answers"][0]
    cited = [best["citation"], *best["also_in"]]
    assert sources_of(content) == [f"[{n}] {c['title']} ({c['doc_id']})"
                                   for n, c in enumerate(cited, 1)]
    assert body["verbatim"]["answers"][0]["citation"] == best["citation"]
    assert body["usage"]["total_tokens"] == (body["usage"]["prompt_tokens"]
                                             + body["usage"]["completion_tokens"]) > 0


def test_the_stream_carries_the_same_reply_and_ends_with_done(seeded_client):
    question = load_questions()[1]["question"]
    whole = ask(seeded_client, ("user", question)).json()
    r = ask(seeded_client, ("user", question), stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    chunks = events(r)
    assert chunks[-1] == "[DONE]"
    parts = chunks[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == parts[0]["id"] for c in parts)
    assert parts[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in parts)
    assert text == whole["choices"][0]["message"]["content"]
    assert [c["choices"][0]["finish_reason"] for c in parts[-1:]] == ["stop"]
    assert all(c["choices"][0]["finish_reason"] is None for c in parts[:-1])
    assert parts[-1]["verbatim"]["answers"][0]["citation"] == \
        whole["verbatim"]["answers"][0]["citation"]


def test_a_question_the_documents_do_not_answer_says_so_plainly(seeded_client):
    r = ask(seeded_client, ("user", "What is the boiling point of mercury in kelvin?"))
    body = r.json()
    assert body["choices"][0]["message"]["content"] == ABSTAIN_MESSAGE
    assert body["verbatim"]["abstained"] is True and body["verbatim"]["answer"] is None
    assert body["verbatim"]["answers"]  # the closest sentences still travel, marked as such


def test_follow_ups_and_system_prompts_read_as_on_the_chat_endpoint(seeded_client):
    first = load_questions()[0]["question"]
    earlier = ask(seeded_client, ("user", first)).json()["verbatim"]["answer"]
    follow_up = "When did he do it?"
    chat = seeded_client.post("/v1/chat", json={"messages": [
        {"role": "user", "content": first}, {"role": "assistant", "content": earlier},
        {"role": "user", "content": follow_up}]}).json()
    r = ask(seeded_client, ("system", "You are a helpful assistant. Answer in French."),
            ("user", first), ("assistant", earlier), ("user", follow_up))
    assert r.json()["verbatim"]["answer"] == chat["answer"]["answer"]
    # Content sent as parts, as newer clients do, reads the same as a string.
    parts = seeded_client.post(COMPLETIONS, json={"model": "verbatim", "messages": [
        {"role": "user", "content": [{"type": "text", "text": first}]}]}).json()
    assert parts["verbatim"]["answer"] == ask(seeded_client, ("user", first)).json()[
        "verbatim"]["answer"]


def test_sampling_settings_are_ignored_and_what_cannot_be_honoured_is_refused(seeded_client):
    question = load_questions()[0]["question"]
    plain = ask(seeded_client, ("user", question)).json()["choices"][0]["message"]["content"]
    tuned = ask(seeded_client, ("user", question), temperature=1.7, top_p=0.2, max_tokens=5,
                seed=3, presence_penalty=1, stop=["."], user="u1",
                tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert tuned.status_code == 200 and tuned.json()["choices"][0]["message"]["content"] == plain
    cases = [
        ({"n": 2}, "n"),
        ({"model": "gpt-4o"}, "model"),
    ]
    for extra, param in cases:
        r = ask(seeded_client, ("user", question), **extra)
        error = r.json()["error"]
        assert r.status_code in (400, 404) and error["param"] == param, r.text
        assert error["message"] and error["type"] == "invalid_request_error"
    for bad in ([{"role": "assistant", "content": "Hello"}], [], [{"role": "user", "content": " "}],
                [{"role": "user", "content": "x" * 3000}], [{"role": "wizard", "content": "hi"}]):
        r = seeded_client.post(COMPLETIONS, json={"model": "verbatim", "messages": bad})
        assert r.status_code == 400 and r.json()["error"]["param"].startswith("messages"), r.text
    r = seeded_client.post(COMPLETIONS, content=b"{not json", headers={
        "Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


def test_the_model_list_names_the_index(seeded_client):
    listed = seeded_client.get("/v1/models").json()
    assert [m["id"] for m in listed["data"]] == ["verbatim"] and listed["object"] == "list"
    assert seeded_client.get("/v1/models/verbatim").json()["id"] == "verbatim"
    r = seeded_client.get("/v1/models/gpt-4o")
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


@pytest.mark.slow
def test_the_openai_sdk_gets_the_same_quote_and_sources_as_the_answer_endpoint(tmp_path):
    openai = pytest.importorskip("openai")
    questions = [q["question"] for q in load_questions()[:3]]
    with running_server(tmp_path / "data") as (url, _):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["verbatim"]
        for question in questions:
            direct = httpx.post(f"{url}/v1/answer", json={"question": question}).json()
            best = direct["answers"][0]
            expected = [f"[{n}] {c['title']} ({c['doc_id']})"
                        for n, c in enumerate([best["citation"], *best["also_in"]], 1)]
            reply = client.chat.completions.create(
                model="verbatim", messages=[{"role": "user", "content": question}],
                temperature=0.2)
            content = reply.choices[0].message.content
            assert content.startswith(reply_text(direct["answer"], direct["band"]))
            assert sources_of(content) == expected
            assert reply.model_extra["verbatim"]["answers"][0]["citation"] == best["citation"]
            streamed = client.chat.completions.create(
                model="verbatim", messages=[{"role": "user", "content": question}], stream=True)
            chunks = list(streamed)
            assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
            assert chunks[-1].choices[0].finish_reason == "stop"
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="verbatim", n=2,
                                           messages=[{"role": "user", "content": questions[0]}])
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="gpt-4o",
                                           messages=[{"role": "user", "content": questions[0]}])


def test_a_quote_that_introduces_a_code_sample_is_sent_with_it(client):
    guide = (b"# Hoist manual\n\nTo lower the cargo hoist by hand:\n\n```\nhoistctl lower --manual\n"
             b"```\n\nThe hoist locks itself when the cargo touches the deck.\n")
    upload = client.post("/v1/documents", files=[("files", ("hoist.md", guide, "text/markdown"))])
    assert upload.status_code == 200, upload.text
    question = "How do I lower the cargo hoist by hand?"
    body = client.post("/v1/answer", json={"question": question}).json()
    assert body["answer"] == "To lower the cargo hoist by hand:"
    assert body["answers"][0]["follows"] == "hoistctl lower --manual"
    # A chat client reads only the reply's text: the sample comes fenced after the quote.
    for reply in (client.post("/v1/chat", json={"messages": [
                      {"role": "user", "content": question}]}).json()["message"]["content"],
                  ask(client, ("user", question)).json()["choices"][0]["message"]["content"]):
        assert reply.startswith("To lower the cargo hoist by hand:")
        assert "\n\n```\nhoistctl lower --manual\n```" in reply
