"""Policy knowledge: answers for travellers; document management for the content team. Every
route answers within its deadline (the request deadline; an upload, ingest included, within the
upload deadline) or with a 504 problem."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.auth import ContentActor
from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES
from core.deadline import answer_within
from core.errors import NotFoundError
from core.logging import get_logger
from ingest.pipeline import Upload
from rag.answers import Answer
from rag.store import SearchFilter

router = APIRouter(prefix="/v1", tags=["policy knowledge"])
log = get_logger("yatri.audit")

MAX_FILES_PER_UPLOAD = 50
DOCUMENTS_PATH = "/v1/documents"
# Multipart framing around the files: boundaries, part headers, the source_uri field.
MULTIPART_ALLOWANCE = 64 * 1024


def upload_body_limit(upload_max_bytes: int) -> dict[str, int]:
    """The document API's own request body limit (the middleware's, by path)."""
    return {DOCUMENTS_PATH: upload_max_bytes + MULTIPART_ALLOWANCE}


class AnswerFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vertical: Literal["flights", "hotels", "buses", "trains", "general"] | None = None
    supplier: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3, max_length=1000)
    filters: AnswerFilters | None = None


class CitationOut(BaseModel):
    document: str = Field(description="The document's id.")
    title: str
    section: str
    version: int
    uri: str | None = Field(description="The document's public web address; null when it has "
                            "none (a file on Yatri's servers, an upload).")  # fmt: skip
    quote: str


class AnswerResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    confidence: float
    grounded: bool
    closest: list[CitationOut] = []


def _filter(filters: AnswerFilters | None) -> SearchFilter:
    if filters is None:
        return SearchFilter()
    return SearchFilter(
        verticals=(filters.vertical,) if filters.vertical else (),
        suppliers=(filters.supplier,) if filters.supplier else (),
        languages=(filters.language,) if filters.language else (),
    )


def _out(answer: Answer) -> AnswerResponse:
    return AnswerResponse.model_validate(answer, from_attributes=True)


@router.post(
    "/answers",
    response_model=AnswerResponse,
    responses=PROBLEM_RESPONSES,
    summary="Answer a policy question from the current documents, with citations",
)
async def answers(body: AnswerRequest, services: ServicesDep) -> AnswerResponse:
    settings = services.settings
    async with answer_within(
        settings.request_timeout_s, reserve_s=settings.request_reply_reserve_s
    ):
        answer = await services.knowledge.answers.answer(
            body.question, filter=_filter(body.filters)
        )
    return _out(answer)


class MetadataWarningOut(BaseModel):
    field: str = Field(description="The metadata field (or `front_matter`).")
    detail: str = Field(description="What was found and how it was taken.")


class ChunkChangesOut(BaseModel):
    added: int = Field(description="Chunks the live version does not have.")
    updated: int = Field(description="Chunks edited in place: embedded again.")
    unchanged: int = Field(description="Chunks the live version has as they are.")
    removed: int = Field(description="Live chunks the new version drops.")


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    vertical: str
    supplier: str | None
    language: str
    version: int
    effective_date: dt.date | None
    supersedes: str | None
    source_uri: str
    format: str
    chunks: int
    flagged_chunks: int
    ingested_at: dt.datetime
    notes: dict[str, str] = Field(
        default={}, description="Free text found beside a metadata value, by field: "
        '`{"effective_date": "revised refund requirements"}`.',
    )  # fmt: skip
    extra: dict[str, str] = Field(
        default={}, description="Metadata fields Yatri does not use, and values it could not "
        "read as their field, as the document wrote them.",
    )  # fmt: skip
    warnings: list[MetadataWarningOut] = Field(
        default=[], description="How the metadata was read, as its ingest reported it."
    )


class FileResultOut(BaseModel):
    filename: str
    outcome: Literal["added", "updated", "unchanged", "deleted", "failed"]
    doc_id: str | None = None
    version: int | None = None
    chunks: int = 0
    flagged_chunks: int = 0
    reason: str | None = None
    detail: str | None = None
    warnings: list[MetadataWarningOut] = Field(
        default=[], description="Metadata taken other than as written: a date's note kept beside "
        "it, an unknown field or a value that is not its field's kind kept as text. Metadata "
        "never fails a document; only a file that cannot be read does.",
    )  # fmt: skip
    changes: ChunkChangesOut | None = Field(
        default=None, description="With `dry_run`: the file's chunks against the live version's "
        "(all added for a new document); null otherwise, or when the live version predates "
        "chunk records (then `detail` says so).",
    )  # fmt: skip


class UploadResponse(BaseModel):
    results: list[FileResultOut]


@router.post(
    "/documents",
    response_model=UploadResponse,
    responses=PROBLEM_RESPONSES,
    summary="Upload policy documents (PDF, HTML, Markdown, DOCX, text); each file ingested alone",
    description="The request body is at most `YATRI_UPLOAD_MAX_BYTES` (413 past it); a file over "
    "another upload limit (expanded size, entries, pages, blocks) fails alone with reason "
    "`too_large`. The upload answers within `YATRI_UPLOAD_TIMEOUT_S` or with a 504 problem. "
    "With `dry_run=true` each file is parsed and chunked and compared with the live version "
    "(`changes`), and nothing is published (`yatri ingest --check`).",
)
async def upload_documents(
    services: ServicesDep,
    actor: ContentActor,
    files: list[UploadFile] = File(description="One or more policy documents."),  # noqa: B008
    source_uri: str | None = Form(  # noqa: B008
        default=None, max_length=2000, description="Where the single uploaded file lives."
    ),
    dry_run: bool = Query(  # noqa: B008
        default=False, description="Validate and report what would change; publish nothing."
    ),
) -> UploadResponse:
    accepted = files[:MAX_FILES_PER_UPLOAD]
    async with answer_within(services.settings.upload_timeout_s):
        uploads = [
            Upload(
                data=await upload.read(),
                filename=upload.filename or "upload",
                source_uri=source_uri
                if source_uri and len(files) == 1
                else f"upload://{upload.filename or 'upload'}",
            )
            for upload in accepted
        ]
        done = await services.knowledge.ingest.ingest_many(uploads, check=dry_run)
    results = []
    for result in done:
        log.info("document upload", actor=actor, filename=result.filename, dry_run=dry_run,
                 outcome=result.outcome.value, doc_id=result.doc_id)  # fmt: skip
        results.append(FileResultOut.model_validate(result, from_attributes=True))
    for upload in files[MAX_FILES_PER_UPLOAD:]:
        results.append(
            FileResultOut(
                filename=upload.filename or "upload",
                outcome="failed",
                reason="too_many_files",
                detail=f"at most {MAX_FILES_PER_UPLOAD} files per request",
            )  # fmt: skip
        )
    return UploadResponse(results=results)


@router.get("/documents", response_model=list[DocumentOut], responses=PROBLEM_RESPONSES,
            summary="Every document in the catalog")  # fmt: skip
async def list_documents(services: ServicesDep, actor: ContentActor) -> list[DocumentOut]:
    async with answer_within(services.settings.request_timeout_s):
        records = await services.knowledge.catalog.all()
    return [DocumentOut.model_validate(r, from_attributes=True) for r in records]


@router.get("/documents/{doc_id}", response_model=DocumentOut, responses=PROBLEM_RESPONSES,
            summary="One document")  # fmt: skip
async def get_document(doc_id: str, services: ServicesDep, actor: ContentActor) -> DocumentOut:
    async with answer_within(services.settings.request_timeout_s):
        record = await services.knowledge.catalog.get(doc_id)
    if record is None:
        raise NotFoundError(f"no document {doc_id!r}")
    return DocumentOut.model_validate(record, from_attributes=True)


@router.delete("/documents/{doc_id}", status_code=204, responses=PROBLEM_RESPONSES,
               summary="Remove a document from retrieval at once")  # fmt: skip
async def delete_document(doc_id: str, services: ServicesDep, actor: ContentActor) -> None:
    async with answer_within(services.settings.request_timeout_s):
        deleted = await services.knowledge.ingest.delete(doc_id)
    if not deleted:
        raise NotFoundError(f"no document {doc_id!r}")
    log.info("document deleted", actor=actor, doc_id=doc_id)
