"""The Model Context Protocol server: assistants (Claude, Cursor, VS Code...) ask the documents
and get verbatim quotes with their citations, over stdio (`qa mcp`) or Streamable HTTP (`/mcp`
on `qa serve`), built on the official `mcp` SDK.

Over HTTP a call may do what the same key may do on the API (reads open unless scoped keys are
set; a scoped key sees its collections only; `add_document` needs a key that may write), and
over stdio `qa mcp --allow-add` lets the assistant add documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from api.access import Scope, WritePolicy
from qa.answering.answerer import Answer, Citation, Result
from qa.answering.conversation import MAX_QUESTION_CHARS, clean_question
from qa.answering.filters import FilterError, combine
from qa.app.service import Verbatim
from qa.indexing.indexer import ModelMismatch
from qa.reading.documents import DocumentError, make_document
from qa.reading.metadata import MetadataError, make_metadata

INSTRUCTIONS = (
    "Verbatim answers from the user's own documents with exact sentences. Quote the `quote` "
    "(and the sentences `search` returns) word for word, with their citation (title, section, "
    "page); do not paraphrase them or add facts they do not state. When `ask` abstains, say "
    "the documents do not answer; `related` sentences are not answers.")
MAX_SLICE = 20_000  # characters `get_document` returns at most

# What a caller may do, from its request's headers (None over stdio): a scope, or why not.
Access = Callable[[Mapping[str, str] | None], Scope | str]


def _citation(c: Citation) -> dict[str, Any]:
    """A citation as an assistant needs it: where the quote stands and how to check it."""
    return {"doc_id": c.doc_id, "title": c.title, "start": c.start, "end": c.end,
            "section": c.section, "location": c.location}


def _ranked(a: Answer) -> dict[str, Any]:
    """One ranked sentence with its score and citation (and the code sample it introduces)."""
    out = {"quote": a.text, "score": round(float(a.score), 4), "citation": _citation(a.citation)}
    return {**out, "follows": a.follows} if a.follows else out


def _where(collection: str | None, filter: dict[str, Any] | None) -> dict | None:
    """The filter an assistant asked for."""
    return combine(collection or None, filter or None)


def build_mcp(service: Callable[[], Verbatim], access: Access) -> MCPServer:
    """An MCP server over one Verbatim service (fetched per call: the API builds it late);
    every tool sees only what the caller's scope allows."""
    server = MCPServer("verbatim", instructions=INSTRUCTIONS, version="0.1.0")

    def scope_of(ctx: Context) -> Scope:
        """The caller's scope, or a tool error saying why it may not read."""
        scope = access(ctx.headers)
        if isinstance(scope, str):
            raise ToolError(scope)
        return scope

    def asked(ctx: Context, text: str, collection: str | None,
              filter: dict[str, Any] | None, top_k: int, abstain: bool) -> Result:
        """Ask within the caller's scope and filter (`abstain=False`: ranked sentences
        whatever their confidence); what cannot be asked is a tool error saying why."""
        within = scope_of(ctx).collections
        try:
            return service().ask(question_of(text), top_k=max(1, min(int(top_k), 20)),
                                 abstain=abstain, where=_where(collection, filter),
                                 within=within)
        except (FilterError, ModelMismatch) as exc:
            raise ToolError(str(exc)) from None

    def question_of(text: str) -> str:
        """The question as the API accepts it, or a tool error saying why not."""
        if len(text) > MAX_QUESTION_CHARS:
            raise ToolError(f"the question must be at most {MAX_QUESTION_CHARS} characters")
        try:
            return clean_question(text)
        except ValueError as exc:
            raise ToolError(f"the question {exc}") from None

    @server.tool(description=(
        "Answer a question from the indexed documents with the one sentence that answers it, "
        "quoted verbatim, its confidence and band (confident / possible: check the source / "
        "none: the documents don't say), and its citation (document, character offsets, "
        "section, page). Quote the answer exactly; never paraphrase it. `collection` or "
        "`filter` (e.g. {\"tags\": {\"in\": [\"hr\"]}}, {\"year\": {\"gte\": 2020}}) limit the "
        "documents it may come from."))
    def ask(question: str, ctx: Context, collection: str | None = None,
            filter: dict[str, Any] | None = None, top_k: int = 3) -> dict[str, Any]:
        """Answer one question, for an assistant that must quote rather than invent."""
        result = asked(ctx, question, collection, filter, top_k, abstain=True)
        ranked = [_ranked(a) for a in result.answers]
        if result.abstained:
            return {"answered": False, "quote": None, "confidence": result.confidence,
                    "band": result.band, "related": ranked,
                    "note": "The documents do not answer this; related sentences are not "
                            "answers."}
        return {"answered": True, "quote": result.answer, "confidence": result.confidence,
                "band": result.band, "citation": ranked[0]["citation"], "ranked": ranked}

    @server.tool(description=(
        "Find the sentences of the indexed documents that best match a query, ranked, each "
        "quoted verbatim with its citation, whether or not one answers it: for reading around "
        "a topic. `collection` or `filter` limit the documents searched."))
    def search(query: str, ctx: Context, collection: str | None = None,
               filter: dict[str, Any] | None = None, top_k: int = 10) -> dict[str, Any]:
        """Ranked sentences for a query, for an assistant that reads them itself."""
        found = asked(ctx, query, collection, filter, top_k, abstain=False).answers
        return {"results": [_ranked(a) for a in found]}

    @server.tool(description=(
        "Read a stored document's text (or the characters start..end of it, which is where a "
        "citation's offsets point), with its title, source, metadata and length."))
    def get_document(doc_id: str, ctx: Context, start: int | None = None,
                     end: int | None = None) -> dict[str, Any]:
        """A document's text around a citation, for checking a quote in context."""
        scope = scope_of(ctx)
        doc = service().get_document(doc_id)
        if doc is None or not scope.allows(doc.metadata.collection):
            raise ToolError(f"no document with doc_id {doc_id!r} (list_documents has them)")
        first = min(max(0, start or 0), len(doc.text))
        last = min(len(doc.text), end if end is not None else first + MAX_SLICE,
                   first + MAX_SLICE)
        if last < first:
            raise ToolError("end must not come before start")
        return {"doc_id": doc.doc_id, "title": doc.title, "source": doc.source, "url": doc.url,
                "metadata": asdict(doc.metadata), "length": len(doc.text), "start": first,
                "end": last, "text": doc.text[first:last]}

    @server.tool(description="List the indexed documents (of one collection), with their "
                             "title, collection, tags and size.")
    def list_documents(ctx: Context, collection: str | None = None) -> dict[str, Any]:
        """What can be asked about, for an assistant choosing a collection or a document."""
        scope = scope_of(ctx)
        rows = [r for r in service().list_documents() if scope.allows(r.metadata.collection)
                and (collection is None or r.metadata.collection == collection)]
        return {"documents": [{"doc_id": r.doc_id, "title": r.title, "source": r.source,
                               "collection": r.metadata.collection, "tags": list(r.metadata.tags),
                               "fields": dict(r.metadata.fields), "sentences": r.sentences}
                              for r in rows]}

    @server.tool(description=(
        "Add or replace a document given as text (needs write access: the API key over HTTP)."
        " It is answerable as soon as this returns."))
    def add_document(text: str, ctx: Context, title: str | None = None,
                     doc_id: str | None = None, collection: str | None = None,
                     tags: list[str] | None = None,
                     fields: dict[str, str | int | float] | None = None) -> dict[str, Any]:
        """Add a document on an assistant's behalf, where the operator allows it."""
        scope = access(ctx.headers)
        if isinstance(scope, str) or not scope.write:
            raise ToolError(scope if isinstance(scope, str) else
                            "adding documents needs write access: the API key (Authorization: "
                            "Bearer <key>) over HTTP, `qa mcp --allow-add` over stdio")
        try:
            doc = make_document(text, doc_id=doc_id, title=title,
                                metadata=make_metadata(collection, tags, fields))
        except (DocumentError, MetadataError) as exc:
            raise ToolError(str(exc)) from None
        stored = service().get_document(doc.doc_id)
        if not scope.allows(doc.metadata.collection) or (
                stored is not None and not scope.allows(stored.metadata.collection)):
            raise ToolError(f"this key may not write to the collection "
                            f"{doc.metadata.collection!r} (or replace {doc.doc_id!r})")
        try:
            report = service().add_documents([doc])
        except DocumentError as exc:
            raise ToolError(str(exc)) from None
        return {"doc_id": doc.doc_id, "added": bool(report.added), "updated": bool(report.updated),
                "unchanged": bool(report.unchanged),
                "sentences_embedded": report.sentences_embedded}

    return server


def http_access(policy: WritePolicy) -> Access:
    """What an MCP request over HTTP may do, by its key, as the API decides: reads as the API
    allows them, writes with a key that may write (or where keyless writes are open)."""
    def access(headers: Mapping[str, str] | None) -> Scope | str:
        """The scope of the key on this call's connection, or why it may not read."""
        scheme, _, token = (headers or {}).get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        scope = policy.reader(token)
        if isinstance(scope, str) or scope.write or (token and policy.scope_of(token)):
            return scope
        return Scope(scope.collections, read=True, write=policy.open)  # keyless: if open
    return access


def local_access(allow_add: bool) -> Access:
    """What `qa mcp` over stdio may do: read everything, add documents with --allow-add."""
    return lambda _headers: Scope(None, read=True, write=allow_add)
