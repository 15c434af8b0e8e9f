"""OpenAI-compatible chat: `POST /v1/chat/completions` and `GET /v1/models`, so chat front ends
and the `openai` SDKs that take a base URL can ask Verbatim.

The reply is the quote followed by its numbered sources, as plain text any client shows; the
structured answer (citations with offsets, confidence) travels in the extra `verbatim` field.
Reads are open, as on `/v1/chat`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.access import Reader, Scope
from api.deps import Service
from api.openai_schemas import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
    Usage,
    error_body,
)
from api.routes.answer import as_json
from qa.answering.answerer import Result
from qa.answering.conversation import ABSTAIN_MESSAGE, Turn, reply_text, with_sample
from qa.answering.filters import parse_filter
from qa.app.service import Verbatim
from qa.reading.layout import SECTION_SEPARATOR, location_label

router = APIRouter(prefix="/v1", tags=["openai"])
PATHS = ("/v1/chat/completions", "/v1/models")  # errors there take the protocol's shape
STARTED = int(time.time())


def reply_parts(answer: Result) -> tuple[str, str]:
    """The quote with its source markers, and the numbered sources (empty when abstaining)."""
    if answer.answer is None or not answer.answers:
        return ABSTAIN_MESSAGE, ""
    best = answer.answers[0]
    sources = [best.citation, *best.also_in]
    markers = "".join(f"[{n}]" for n in range(1, len(sources) + 1))
    listed = "\n".join(f"[{n}] {SECTION_SEPARATOR.join([c.title, *c.section])}"
                       f"{', ' + location_label(c.location) if location_label(c.location) else ''}"
                       f" ({c.doc_id})" for n, c in enumerate(sources, 1))
    quote = with_sample(f"{reply_text(answer.answer, answer.band)} {markers}", best.follows)
    return quote, f"\n\nSources:\n{listed}"


def turns(messages: list[ChatMessage]) -> list[Turn]:
    """The conversation as Verbatim reads it: the user's and assistant's turns, in order
    (system prompts and tool messages ask nothing of an extractive answerer)."""
    said = [Turn(m.role, m.text()) for m in messages if m.role in ("user", "assistant")]
    return [t for t in said if t.content.strip()]


def _unknown_model(name: str, service: Verbatim, scope: Scope) -> JSONResponse:
    """Refuse a model name other than the index's or a collection's, as the protocol does."""
    names = ", ".join(repr(m) for m in model_names(service, scope))
    return JSONResponse(status_code=404, content=error_body(
        f"the model {name[:200]!r} does not exist; this server answers as {names}",
        param="model", code="model_not_found"))


def model_names(service: Verbatim, scope: Scope, listed: bool = False) -> list[str]:
    """The whole index, then each collection the caller may read as `verbatim:<collection>`
    (listed only where there are several: one would be the whole index again)."""
    collections = [c for c in service.collections() if scope.allows(c)]
    if listed and len(collections) < 2:
        return [MODEL_ID]
    return [MODEL_ID, *(f"{MODEL_ID}:{c}" for c in collections)]


def _where(body: ChatCompletionRequest) -> dict | None:
    """The filter a request asks for: the model's collection and the metadata's filter."""
    extra = body.metadata or {}
    parts = [{"collection": c} for c in (body.model.partition(":")[2], extra.get("collection"))
             if c]
    spec = parse_filter(extra.get("filter"))
    if spec:
        parts.append(spec)
    return None if not parts else parts[0] if len(parts) == 1 else {"and": parts}


@router.post("/chat/completions", response_model=ChatCompletion,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "A completion, or server-sent chunks with "
                                             "`stream: true`."}})
def chat_completions(body: ChatCompletionRequest, service: Service, scope: Reader) -> Response:
    """Answer the conversation's last user message with a quote and its numbered sources."""
    if body.model not in model_names(service, scope):
        return _unknown_model(body.model, service, scope)
    conversation = turns(body.messages)
    answer = service.chat(conversation, top_k=body.top_k, where=_where(body),
                          within=scope.collections)
    quote, sources = reply_parts(answer)
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        return StreamingResponse(_events(ident, created, answer, [quote, sources]),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    asked = sum(len(t.content.split()) for t in conversation)
    written = len((quote + sources).split())
    return as_json(ChatCompletion(
        id=ident, created=created, model=MODEL_ID,
        choices=[Choice(message=AssistantMessage(content=quote + sources))],
        usage=Usage(prompt_tokens=asked, completion_tokens=written,
                    total_tokens=asked + written),
        verbatim=answer))


def _events(ident: str, created: int, answer: Result, pieces: list[str]
            ) -> Iterator[str]:
    """The reply as the protocol streams it: the role, the text, then the end (with the
    structured answer), then `[DONE]`."""
    def event(delta: Delta, finish: bool = False) -> str:
        chunk = ChatCompletionChunk(
            id=ident, created=created, model=MODEL_ID,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            verbatim=answer if finish else None).model_dump(mode="json")
        chunk["choices"][0]["delta"] = delta.model_dump(exclude_none=True)  # as the protocol
        if not finish:
            del chunk["verbatim"]
        return f"data: {json.dumps(chunk)}\n\n"

    yield event(Delta(role="assistant", content=""))
    for piece in pieces:
        if piece:
            yield event(Delta(content=piece))
    yield event(Delta(), finish=True)
    yield "data: [DONE]\n\n"


@router.get("/models", response_model=ModelList)
def models(service: Service, scope: Reader) -> ModelList:
    """Name the models a client may ask for: the whole index, and each collection."""
    return ModelList(data=[ModelCard(id=name, created=STARTED)
                           for name in model_names(service, scope, listed=True)])


@router.get("/models/{model_id}", response_model=ModelCard)
def model(model_id: str, service: Service, scope: Reader) -> Response:
    """Describe one model, or refuse another name as the protocol does."""
    if model_id not in model_names(service, scope):
        return _unknown_model(model_id, service, scope)
    return as_json(ModelCard(id=model_id, created=STARTED))
