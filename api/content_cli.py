"""`yatri ingest` and `yatri docs`: the content team's commands, over the HTTP API of a running
Yatri (the same path an upload from a browser takes). A file over the upload size is reported
without being sent, with the server's own limit and setting (YATRI_UPLOAD_MAX_BYTES).

This module needs only an HTTP client (no app, no settings class), so that api/cli.py can start
these commands on their own in a fraction of a second."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from core.uploads import UPLOAD_MAX_BYTES, UPLOAD_TIMEOUT_S

SUPPORTED = {".pdf", ".html", ".htm", ".md", ".markdown", ".docx", ".txt"}

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Yatri's content commands.")
docs_cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Policy documents.")
out = Console(width=160)
err = Console(stderr=True)

UrlOption = Annotated[
    str, typer.Option(envvar="YATRI_URL", help="Base URL of a running Yatri [YATRI_URL].")
]
KeyOption = Annotated[
    str,
    typer.Option(envvar="YATRI_CONTENT_API_KEY", help="Content-team key [YATRI_CONTENT_API_KEY]."),
]
MaxBytesOption = Annotated[
    int,
    typer.Option(envvar="YATRI_UPLOAD_MAX_BYTES",
                 help="Largest file to send, as the server allows [YATRI_UPLOAD_MAX_BYTES]."),
]  # fmt: skip
TimeoutOption = Annotated[
    float,
    typer.Option(envvar="YATRI_UPLOAD_TIMEOUT_S",
                 help="The server's upload deadline; the CLI waits 30 s more [YATRI_UPLOAD_TIMEOUT_S]."),
]  # fmt: skip
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_KEY = "dev-content-key"
DEFAULT_MAX_BYTES = UPLOAD_MAX_BYTES
DEFAULT_UPLOAD_TIMEOUT_S = UPLOAD_TIMEOUT_S
UPLOADS_IN_FLIGHT = 3  # files posted at once by `yatri ingest`


def collect(paths: list[Path]) -> list[Path]:
    """Files named directly, and the supported files under folders named. Inside folders,
    hidden names, names starting with "_" and READMEs (notes for people) are skipped."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                parts = child.relative_to(path).parts
                if any(p.startswith((".", "_")) for p in parts) or not child.is_file():
                    continue
                if child.suffix.lower() in SUPPORTED and not child.name.lower().startswith(
                    "readme"
                ):
                    found.append(child)
        else:
            found.append(path)
    return found


def _client(url: str, key: str, *, timeout_s: float = 120) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=timeout_s)


def _too_large(path: Path, detail: str) -> dict[str, Any]:
    return {"filename": str(path), "outcome": "failed", "reason": "too_large", "detail": detail}


def _problem_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text


def _fail(response: httpx.Response) -> typer.Exit:
    detail = _problem_detail(response)
    err.print(f"[red]yatri: {response.status_code} {detail}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = DEFAULT_KEY,
    prune: Annotated[
        bool, typer.Option(help="Delete documents that came from these folders but are gone.")
    ] = False,
    max_bytes: MaxBytesOption = DEFAULT_MAX_BYTES,
    timeout_s: TimeoutOption = DEFAULT_UPLOAD_TIMEOUT_S,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Validate and show what would change, chunk by chunk "
            "(added, updated, unchanged, removed); publish nothing.",
        ),
    ] = False,
) -> None:
    """Ingest policy documents; prints a summary with the reason for every failure and every
    metadata warning (a value kept as text, a date's note)."""
    files = collect(paths)
    rows: list[dict[str, Any]] = []
    with (
        _client(url, api_key, timeout_s=timeout_s + 30) as client,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
        ) as progress,
    ):
        verb = "checking" if check else "ingesting"
        task = progress.add_task(verb, total=len(files))

        def post(path: Path) -> httpx.Response:
            return client.post(
                "/v1/documents",
                files={"files": (path.name, path.read_bytes())},
                data={"source_uri": path.resolve().as_uri()},
                params={"dry_run": "true"} if check else None,
            )

        # A few files in flight at once, so the server parses one while it embeds another;
        # the summary keeps the files' order.
        with ThreadPoolExecutor(max_workers=UPLOADS_IN_FLIGHT) as pool:
            pending: list[tuple[Path, Future[httpx.Response] | dict[str, Any]]] = []
            for path in files:
                if not path.exists():
                    pending.append((path, {"filename": str(path), "outcome": "failed",
                                           "reason": "not_found", "detail": "no such file"}))  # fmt: skip
                elif (size := path.stat().st_size) > max_bytes:
                    pending.append((path, _too_large(path, f"{size} bytes, more than {max_bytes}")))
                else:
                    future = pool.submit(post, path)
                    future.add_done_callback(lambda _: progress.advance(task))
                    pending.append((path, future))
                    continue
                progress.advance(task)
            for path, outcome in pending:
                if isinstance(outcome, dict):
                    rows.append(outcome)
                    continue
                progress.update(task, description=f"{verb} {path.name[:40]:<40}")
                try:
                    r = outcome.result()
                except httpx.HTTPError as e:
                    err.print(f"[red]yatri: cannot reach {url}: {e}[/red]", soft_wrap=True)
                    raise typer.Exit(1) from e
                if r.status_code == 413:  # the server's limit is lower than this CLI's
                    rows.append(_too_large(path, _problem_detail(r)))
                elif r.status_code != 200:
                    raise _fail(r)
                else:
                    rows.extend(r.json()["results"])
        if prune:
            rows.extend(_prune(client, paths, files, dry_run=check))
    _summary(rows, check=check)
    if any(r["outcome"] == "failed" for r in rows):
        raise typer.Exit(1)


def _prune(
    client: httpx.Client, paths: list[Path], files: list[Path], *, dry_run: bool
) -> list[dict[str, Any]]:
    folders = [p.resolve().as_uri() + "/" for p in paths if p.is_dir()]
    present = {f.resolve().as_uri() for f in files}
    r = client.get("/v1/documents")
    if r.status_code != 200:
        raise _fail(r)
    gone = []
    for doc in r.json():
        uri = doc["source_uri"]
        if any(uri.startswith(f) for f in folders) and uri not in present:
            deleted = None if dry_run else client.delete(f"/v1/documents/{doc['doc_id']}")
            if deleted is not None and deleted.status_code not in (204, 404):
                raise _fail(deleted)
            gone.append({"filename": uri.rsplit("/", 1)[-1], "outcome": "deleted",
                         "doc_id": doc["doc_id"], "chunks": doc["chunks"]})  # fmt: skip
    return gone


def _summary(rows: list[dict[str, Any]], *, check: bool = False) -> None:
    counts = Counter(r["outcome"] for r in rows)
    table = Table(title="ingest check: nothing published" if check else "ingest summary")
    columns = ["file", "outcome", "doc_id", "version", "chunks", "flagged", "reason"]
    if check:
        columns.insert(5, "chunk changes")
    for column in columns:
        table.add_column(column)
    colours = {"failed": "red", "added": "green", "updated": "cyan", "deleted": "yellow"}
    for r in rows:
        colour = colours.get(r["outcome"], "white")
        reason = f"{r.get('reason')}: {r.get('detail')}" if r["outcome"] == "failed" else ""
        cells = [
            r["filename"], f"[{colour}]{r['outcome']}[/{colour}]", r.get("doc_id") or "",
            str(r.get("version") or ""), str(r.get("chunks") or ""),
            str(r.get("flagged_chunks") or ""), reason,
        ]  # fmt: skip
        if check:
            cells.insert(5, _changes(r))
        table.add_row(*cells)
    out.print(table)
    warned = [(r["filename"], w) for r in rows for w in r.get("warnings") or []]
    if warned:
        notes = Table(title="metadata warnings: kept, not refused")
        for column in ("file", "field", "detail"):
            notes.add_column(column)
        for filename, warning in warned:
            notes.add_row(filename, warning["field"], warning["detail"])
        out.print(notes)
    totals = " ".join(
        f"{k}={counts.get(k, 0)}" for k in ("added", "updated", "unchanged", "deleted", "failed")
    )
    out.print(
        f"{totals} warnings={len(warned)}" + (" (would be; nothing published)" if check else "")
    )


def _changes(row: dict[str, Any]) -> str:
    """`+added ~updated =unchanged -removed`, or why there is none."""
    changes = row.get("changes")
    if changes is None:
        return "" if row["outcome"] in ("failed", "deleted") else "unknown"
    return (
        f"+{changes['added']} ~{changes['updated']} ={changes['unchanged']} -{changes['removed']}"
    )


@docs_cli.command("list")
def list_docs(url: UrlOption = DEFAULT_URL, api_key: KeyOption = DEFAULT_KEY) -> None:
    """Every document in the catalog."""
    with _client(url, api_key) as client:
        r = client.get("/v1/documents")
    if r.status_code != 200:
        raise _fail(r)
    table = Table(title="documents")
    for column in ("doc_id", "vertical", "version", "effective", "chunks", "flagged", "title"):
        table.add_column(column)
    for d in r.json():
        table.add_row(d["doc_id"], d["vertical"], str(d["version"]), d["effective_date"] or "",
                      str(d["chunks"]), str(d["flagged_chunks"]), d["title"])  # fmt: skip
    out.print(table)


@docs_cli.command("delete")
def delete_doc(
    doc_id: Annotated[str, typer.Argument(help="The document to remove.")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = DEFAULT_KEY,
) -> None:
    """Remove a document from retrieval at once."""
    with _client(url, api_key) as client:
        r = client.delete(f"/v1/documents/{doc_id}")
    if r.status_code != 204:
        raise _fail(r)
    out.print(f"deleted {doc_id}")


cli.command("ingest")(ingest)
cli.add_typer(docs_cli, name="docs")
