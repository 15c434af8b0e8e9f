"""Bodies of the OpenAI-compatible endpoints: what chat front ends and the `openai` SDK send and
expect back.

Only what Verbatim can honour is read. Sampling settings (temperature, top_p, max_tokens, seed,
penalties, stop, tools...) mean nothing to an extractive answerer and are accepted and ignored,
so a front end that always sends them still works; `n` above 1 is refused, since there is one
best quote, not several samples.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import (
    MAX_MESSAGES,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    clean_question,
)
from qa.answering.answerer import Result

MODEL_ID = "verbatim"
MAX_CONTENT_CHARS = 20_000


class TextPart(BaseModel):
    """One part of a message's content; only text parts carry anything Verbatim reads."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = Field(None, max_length=MAX_CONTENT_CHARS)


class ChatMessage(BaseModel):
    """One message of the conversation, as the protocol writes it."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = Field(None)

    @field_validator("content")
    @classmethod
    def _bounded(cls, content: str | list[TextPart] | None) -> str | list[TextPart] | None:
        """Keep one turn's text within what a conversation may carry."""
        if isinstance(content, str) and len(content) > MAX_CONTENT_CHARS:
            raise ValueError(f"a message must be at most {MAX_CONTENT_CHARS} characters")
        if isinstance(content, list) and len(content) > MAX_MESSAGES:
            raise ValueError(f"a message may have at most {MAX_MESSAGES} parts")
        return content

    def text(self) -> str:
        """The message's words, whether sent as a string or as content parts."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if p.type == "text" and p.text)


class ChatCompletionRequest(BaseModel):
    """A chat-completions request; the last user message is the question."""

    model_config = ConfigDict(extra="allow")  # sampling settings and the like: ignored
    model: str = Field(..., max_length=200, examples=[MODEL_ID])
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    stream: bool | None = False
    n: int | None = Field(1, description="Only 1: there is one best quote.")
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, strict=True,
                       description="How many ranked answers the `verbatim` field carries.")
    metadata: dict[str, str] | None = Field(
        None, description="`filter`: a JSON filter (docs/filters.md) the answer must come "
                          "from within; `collection`: a collection (or name the model "
                          "`verbatim:<collection>`).")

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        """Refuse several choices: sampling again would give the same quote."""
        if n not in (None, 1):
            raise ValueError("only n=1 is supported: Verbatim returns the one best quote")
        return n

    @field_validator("messages")
    @classmethod
    def _ends_with_question(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        """Make sure the conversation ends with a user's question Verbatim can read."""
        if messages[-1].role != "user":
            raise ValueError("the last message must be the user's question")
        question = messages[-1].text()
        if len(question) > MAX_QUESTION_CHARS:
            raise ValueError(f"the question must be at most {MAX_QUESTION_CHARS} characters")
        clean_question(question)  # the same rule as /v1/answer and /v1/chat
        return messages


class AssistantMessage(BaseModel):
    """The reply: the quote and its numbered sources, as plain text any client can show."""

    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class Choice(BaseModel):
    """The one choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Words read and written (whitespace-separated): Verbatim has no generation to meter."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """A chat completion, with the structured answer under `verbatim` for citation-aware clients."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    verbatim: Result = Field(
        ..., description="The answer behind the reply: citations with offsets, confidence.")


class Delta(BaseModel):
    """What a streamed chunk adds to the reply."""

    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    """The one choice of a streamed chunk."""

    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed completion; the last carries `verbatim`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    verbatim: Result | None = None


class ModelCard(BaseModel):
    """A model a client may name: the whole index, or one collection of it."""

    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "verbatim"


class ModelList(BaseModel):
    """The models a client may name."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


def error_body(message: str, param: str | None = None, code: str | None = None,
               kind: str = "invalid_request_error") -> dict[str, Any]:
    """The protocol's error shape, which the SDKs turn into their own exceptions."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
