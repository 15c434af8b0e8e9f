"""Document and index endpoints: list, read, add (JSON or file upload), delete, rebuild."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from api.access import Reader, Scope, Writer
from api.deps import Service
from api.middleware import BodyTooLarge
from api.schemas import (
    MAX_DOCUMENTS_PER_REQUEST,
    DocumentList,
    DocumentsIn,
)
from qa.app.service import Verbatim
from qa.indexing.indexer import AddReport
from qa.reading.documents import MAX_DOCUMENT_CHARS, Document, DocumentError, make_document
from qa.reading.formats import parse_document
from qa.reading.metadata import Metadata, MetadataError, make_metadata

router = APIRouter(prefix="/v1", tags=["documents"])

_ADD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DocumentsIn"}},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["files"],
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "collection": {"type": "string", "description": "for every file"},
                    "tags": {"type": "string", "description": "comma-separated"},
                    "meta": {"type": "string", "description": "a JSON object of key-values"},
                }}},
        },
    }
}


def add_body_schemas(openapi: dict) -> dict:
    """Publish the JSON upload body (read by hand, so FastAPI doesn't) under components."""
    body = DocumentsIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(body.pop("$defs", {}))
    schemas["DocumentsIn"] = body
    return openapi


async def _json_documents(request: Request) -> list[Document]:
    """Read documents sent as JSON."""
    try:
        payload = json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(400, f"the body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise HTTPException(400, "the body's JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python will convert
        raise HTTPException(400, f"the body's JSON cannot be read: {exc}") from None
    try:
        body = DocumentsIn.model_validate(payload)
    except ValidationError as exc:  # answered like any other invalid body, by the app's handler
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(
            include_url=False, include_input=False)]) from None
    docs = []
    for i, d in enumerate(body.documents):
        try:
            docs.append(make_document(d.text, doc_id=d.doc_id, title=d.title, url=d.url or "",
                                      metadata=make_metadata(d.collection, d.tags, d.meta)))
        except (DocumentError, MetadataError) as exc:
            raise HTTPException(422, f"documents[{i}]: {exc}") from exc
    return docs


class _NamedPartsParser(MultiPartParser):
    """Starlette's multipart parser, also taking a part named only by RFC 2231's `filename*`
    as a file (starlette reads only `filename` and would treat it as a text field)."""

    def on_headers_finished(self) -> None:
        """Give an extended-name-only part a plain name too; `upload_name` reads the real one."""
        disposition = self._current_part.content_disposition or b""
        if b"filename*" in disposition.lower() and not re.search(
                rb"(^|;)\s*filename\s*=", disposition, re.I):
            self._current_part.content_disposition = disposition + b'; filename="upload"'
        super().on_headers_finished()


def upload_name(upload: UploadFile) -> str:
    """The file name a client gave, preferring RFC 2231's `filename*=UTF-8''...` (how clients
    send names outside ASCII) to the plain `filename`; the email package decodes both."""
    part = EmailMessage()
    try:
        part["content-disposition"] = upload.headers.get("content-disposition", "")
        name = part.get_filename()
    except (ValueError, TypeError, IndexError):  # a header the email package cannot parse
        name = None
    return name or upload.filename or "upload.txt"


async def _uploaded_documents(request: Request) -> list[Document]:
    """Read documents uploaded as files in the multipart field `files`."""
    try:
        form = await _NamedPartsParser(request.headers, request.stream(),
                                       max_files=MAX_DOCUMENTS_PER_REQUEST,
                                       max_part_size=MAX_DOCUMENT_CHARS).parse()
    except BodyTooLarge:  # a chunked body past the limit: the middleware answers 413
        raise
    except (StarletteHTTPException, MultiPartException) as exc:  # starlette's own limits
        detail = str(getattr(exc, "detail", None) or getattr(exc, "message", exc))
        status = 413 if "too many" in detail.lower() else 400
        raise HTTPException(status, f"cannot read the upload: {detail}") from exc
    except Exception as exc:  # the multipart parser raises several types for bad bodies
        raise HTTPException(400, f"cannot read the upload: {exc}") from exc
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise HTTPException(422, "no files: send them in the multipart field 'files'")
    metadata = _form_metadata(form)
    docs = []
    for upload in files:
        name = upload_name(upload)
        data = await upload.read(MAX_DOCUMENT_CHARS + 1)
        if len(data) > MAX_DOCUMENT_CHARS:
            raise HTTPException(413, f"{name}: larger than {MAX_DOCUMENT_CHARS} bytes")
        try:
            doc = await run_in_threadpool(parse_document, data, name)
        except DocumentError as exc:
            raise HTTPException(422, str(exc)) from exc
        docs.append(doc.filed(metadata))
    return docs


def _form_metadata(form: FormData) -> Metadata:
    """Metadata sent beside uploaded files: the form fields `collection`, `tags` (repeated,
    or comma-separated) and `meta` (a JSON object), for every file of the upload."""
    text = [v for key in ("collection", "tags", "meta") for v in form.getlist(key)
            if not isinstance(v, str)]
    if text:
        raise HTTPException(422, "collection, tags and meta are text fields, not files")
    tags = [t.strip() for v in form.getlist("tags") for t in str(v).split(",") if t.strip()]
    try:
        fields = json.loads(form.get("meta") or "{}")
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"meta is not a JSON object: {exc.msg}") from None
    if not isinstance(fields, dict):
        raise HTTPException(422, "meta must be a JSON object of key-values")
    try:
        return make_metadata(str(form.get("collection") or "") or None, tags, fields)
    except MetadataError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/documents", response_model=DocumentList)
def list_documents(request: Request, service: Service, scope: Reader,
                   collection: Annotated[str | None, Query(max_length=64)] = None,
                   tag: Annotated[str | None, Query(max_length=100)] = None) -> DocumentList:
    """List the indexed documents with their sizes and metadata (of one collection, or with
    one tag, when asked), the collections there are, and what adding one takes (all within
    the key's scope)."""
    everything = [d for d in service.list_documents() if scope.allows(d.metadata.collection)]
    shown = [d for d in everything if (collection is None or d.metadata.collection == collection)
             and (tag is None or tag in d.metadata.tags)]
    return DocumentList(documents=shown, writes=request.app.state.write_policy.mode,
                        collections=sorted({d.metadata.collection for d in everything}))


def _visible(service: Verbatim, doc_id: str, scope: Scope) -> Document:
    """A document the caller may see, or 404 (also outside its scope: not even its existence
    is told)."""
    doc = service.get_document(doc_id)
    if doc is None or not scope.allows(doc.metadata.collection):
        raise HTTPException(404, f"no document with doc_id {doc_id!r}")
    return doc


@router.get("/documents/{doc_id}", response_model=Document)
def get_document(doc_id: str, service: Service, scope: Reader) -> Document:
    """Return a document's stored text, which citation offsets point into."""
    return _visible(service, doc_id, scope)


# Served so they cannot run anything in this page's origin: an uploaded HTML page (or SVG)
# keeps its links and anchors but no scripts, and nothing is sniffed into another type.
_INLINE = ("application/pdf", "text/plain", "text/markdown", "text/html")


@router.get("/documents/{doc_id}/original", response_class=Response,
            responses={200: {"description": "The file as it was added", "content": {
                "application/pdf": {}, "text/html": {}, "application/octet-stream": {}}},
                       404: {"description": "No such document, or it was sent as text"}})
def get_original(doc_id: str, service: Service, scope: Reader) -> Response:
    """Return the file a document was read from, for reading the quote in its original."""
    _visible(service, doc_id, scope)
    original = service.get_original(doc_id)
    if original is None:
        raise HTTPException(404, f"document {doc_id!r} was sent as text: there is no original "
                                 f"file (GET /v1/documents/{doc_id} has its text)")
    name = PurePosixPath(original.name).name or doc_id
    inline = original.media_type.startswith(_INLINE)
    disposition = "inline" if inline else "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
    headers = {"Content-Disposition": f'{disposition}; filename="{ascii_name}"; '
                                      f"filename*=UTF-8''{quote(name)}"}
    if original.media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = "sandbox"  # on top of the page's own policy
    return Response(original.data, media_type=original.media_type, headers=headers)


@router.post("/documents", response_model=AddReport, openapi_extra=_ADD_BODY)
async def add_documents(request: Request, service: Service, scope: Writer) -> AddReport:
    """Add or replace documents (JSON or file upload); the index is updated before it returns."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        docs = await _json_documents(request)
    elif content_type == "multipart/form-data":
        docs = await _uploaded_documents(request)
    else:
        raise HTTPException(415, "send application/json {\"documents\": [...]} or "
                                 "multipart/form-data with files in the field 'files'")
    for doc in docs:
        if not scope.allows(doc.metadata.collection):
            raise HTTPException(403, f"this key may not write to the collection "
                                     f"{doc.metadata.collection!r}; name one of its own")
    stored = service.store.metadata([d.doc_id for d in docs]) \
        if scope.collections is not None else {}
    for doc in docs:  # nor replace a document of another collection
        if doc.doc_id in stored and not scope.allows(stored[doc.doc_id][1].collection):
            raise HTTPException(403, f"doc_id {doc.doc_id!r} is taken outside this key's "
                                     f"collections")
    report = await run_in_threadpool(service.add_documents, docs)
    return report


@router.delete("/documents/{doc_id}")
def delete_document(doc_id: str, service: Service, scope: Writer) -> dict[str, str]:
    """Remove a document and its vectors from the index."""
    _visible(service, doc_id, scope)
    if not service.remove(doc_id):
        raise HTTPException(404, f"no document with doc_id {doc_id!r}")
    return {"deleted": doc_id}


@router.post("/index/rebuild", tags=["index"])
def rebuild(service: Service, scope: Writer) -> dict[str, int]:
    """Re-chunk and re-embed every document, e.g. after the model changed."""
    if scope.collections is not None:
        raise HTTPException(403, "rebuilding re-embeds every collection: it needs a key for "
                                 "all of them")
    return {"documents": service.rebuild()}
