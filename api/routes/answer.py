"""Answer and chat endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from api.access import Reader
from api.deps import Service
from api.schemas import (
    AnswerRequest,
    ChatRequest,
    ChatResponse,
    Reply,
)
from qa.answering.answerer import Result
from qa.answering.conversation import Turn, reply_text, with_sample
from qa.answering.filters import combine

router = APIRouter(prefix="/v1", tags=["answers"])


def as_json(body: BaseModel | Result) -> Response:
    """Send a body built from checked values: FastAPI would validate it again on the way out."""
    return Response(TypeAdapter(type(body)).dump_json(body), media_type="application/json")


@router.post("/answer", response_model=Result)
def answer(body: AnswerRequest, service: Service, scope: Reader) -> Response:
    """Answer a question with the best verbatim sentence and its citation."""
    where = combine(body.collection, body.filter)
    return as_json(service.ask(body.question, top_k=body.top_k, where=where,
                               within=scope.collections))


@router.post("/chat", response_model=ChatResponse)
def chat(body: ChatRequest, service: Service, scope: Reader) -> Response:
    """Answer the last user message, reading earlier turns to understand follow-ups."""
    turns = [Turn(m.role, m.content) for m in body.messages]
    result = service.chat(turns, top_k=body.top_k, where=combine(body.collection, body.filter),
                          within=scope.collections)
    content = reply_text(result.answer, result.band)
    if result.answer is not None and result.answers:
        content = with_sample(content, result.answers[0].follows)
    return as_json(ChatResponse(message=Reply(content=content), answer=result))
