"""Request and response bodies of the HTTP API: the contract scripts and the chat page rely on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from qa.answering.answerer import Result
from qa.answering.conversation import MAX_QUESTION_CHARS, clean_question
from qa.reading.documents import DOC_ID_PATTERN, MAX_DOCUMENT_CHARS
from qa.reading.formats import SUPPORTED_SUFFIXES
from qa.storage.records import DocumentSummary

FILTER_DESCRIPTION = (
    "Answer only from the documents this filter keeps: {\"collection\": \"handbook\"}, "
    "{\"tags\": {\"in\": [\"hr\"]}}, {\"year\": {\"gte\": 2020}}, and/or/not "
    "(docs/filters.md). A field, collection or tag that does not exist is refused (422).")
MAX_MESSAGES = 50
MAX_TOP_K = 20
MAX_DOCUMENTS_PER_REQUEST = 100


class AnswerRequest(BaseModel):
    """A question to answer."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS,
                          examples=["Who carried the torch on the spacewalk?"])
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, strict=True,
                       description="How many ranked answers to return.")
    collection: str | None = Field(None, max_length=64,
                                   description="Answer only from this collection.")
    filter: dict[str, Any] | None = Field(None, description=FILTER_DESCRIPTION)

    _clean = field_validator("question")(clean_question)


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(..., max_length=20_000)


class ChatRequest(BaseModel):
    """A conversation whose last message is the user's question."""

    model_config = ConfigDict(extra="forbid")
    messages: list[Message] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, strict=True)
    collection: str | None = Field(None, max_length=64,
                                   description="Answer only from this collection.")
    filter: dict[str, Any] | None = Field(None, description=FILTER_DESCRIPTION)

    @field_validator("messages")
    @classmethod
    def _last_is_question(cls, messages: list[Message]) -> list[Message]:
        """Make sure there is a question to answer."""
        if messages[-1].role != "user":
            raise ValueError("the last message must be the user's question")
        if len(messages[-1].content) > MAX_QUESTION_CHARS:
            raise ValueError(f"the question must be at most {MAX_QUESTION_CHARS} characters")
        messages[-1].content = clean_question(messages[-1].content)
        return messages


class Reply(BaseModel):
    """The assistant's turn: the quoted sentence, as long as the document's sentence is (a
    PDF or a scraped page can hold one line of 20,000 characters and more)."""

    role: Literal["assistant"] = "assistant"
    content: str


class ChatResponse(BaseModel):
    """The assistant's reply and the full answer behind it."""

    message: Reply
    answer: Result


class DocumentIn(BaseModel):
    """A document sent as JSON."""

    model_config = ConfigDict(extra="forbid")
    doc_id: str | None = Field(None, max_length=200, json_schema_extra={"pattern": DOC_ID_PATTERN})
    title: str | None = Field(None, max_length=500)
    text: str = Field(..., max_length=MAX_DOCUMENT_CHARS)
    url: str | None = Field(None, max_length=2000,
                            description="Where the document lives on the web (http or https).")
    collection: str | None = Field(None, max_length=64,
                                   description="Its collection ('default' when not given).")
    tags: list[str] = Field(default_factory=list, max_length=50)
    meta: dict[str, StrictStr | StrictInt | StrictFloat] = Field(
        default_factory=dict, description="Free key-values (strings, numbers, ISO dates) that "
                                          "filters can match.")


class DocumentsIn(BaseModel):
    """Documents to add or replace."""

    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(..., min_length=1, max_length=MAX_DOCUMENTS_PER_REQUEST)


class DocumentList(BaseModel):
    """All indexed documents, and the file types an upload may be."""

    documents: list[DocumentSummary]
    formats: list[str] = Field(default_factory=lambda: list(SUPPORTED_SUFFIXES),
                               description="File suffixes uploads and `qa add` accept.")
    collections: list[str] = Field(default_factory=list,
                                   description="The collections documents are filed under.")
    writes: Literal["open", "key", "off"] = Field(
        "open", description="What adding documents takes here: nothing (open), the API key "
                            "(key), or nothing will do: writes are disabled on this server (off).")


class Health(BaseModel):
    """Liveness and what is indexed."""

    status: str
    model: str
    backend: str
    store: str = Field("sqlite", description="Where the documents live: sqlite (this machine) "
                                             "or postgresql (shared by replicas).")
    detail: str | None
    prepared: bool = Field(
        True, description="False while the sentences are still being analysed for ranking in "
                          "the background after start; questions are answered meanwhile, "
                          "about a millisecond slower.")
    documents: int
    passages: int
    sentences: int
    vectors: int = Field(..., description="Sentence vectors in the in-memory index.")
