"""The browser side, served as files: the traveller's page (`/`), the embeddable widget
(`/widget.js`), the content team's console (`/console`) and their assets (`/web/...`), from
the `web/static` package folder. No template engine and no build step: a file is sent as it
is, except that `__YATRI_VERSION__` becomes the version of the whole folder, so pages and the
widget ask for assets under names that change when any file does.

Headers: every file has a strong ETag (304 on a match); the stable URLs (`/`, `/console`,
`/widget.js`) are revalidated on every load (`no-cache`), a versioned asset is immutable for a
year. Pages carry a Content-Security-Policy that allows this origin only: scripts, styles and
the worklet from here, no inline script or style, `fetch` and the voice websocket to here.

Two small JSON answers serve the pages themselves: `GET /web/config.json` (is this a
development server, is voice on), and, in development only, `POST /web/dev-token`, which signs
in as a sandbox traveller the way `yatri token --traveller` does.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import TRAVELLER_SCOPE, issue_token
from api.deps import ServicesDep
from bookings.profiles import SANDBOX_PROFILES, TravellerProfile
from core.errors import NotFoundError
from core.settings import DEFAULT_CONTENT_KEY

router = APIRouter(include_in_schema=False)

VERSION_MARK = b"__YATRI_VERSION__"
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
DEV_TOKEN_TTL_S = 3600
_TEXT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class StaticFolder:
    version: str
    files: dict[str, StaticFile]


@cache
def static_folder() -> StaticFolder:
    """The folder's files, read once (a few dozen KB) on first use."""
    root = resources.files("web") / "static"
    raw = {
        entry.name: entry.read_bytes()
        for entry in root.iterdir()
        if entry.is_file() and not entry.name.startswith(".")
    }
    digest = hashlib.sha256()
    for name in sorted(raw):
        digest.update(name.encode() + b"\0" + raw[name])
    version = digest.hexdigest()[:12]
    files = {}
    for name, body in raw.items():
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        media_type = _TEXT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"  # fmt: skip
        if media_type.startswith("text/") or media_type == "image/svg+xml":
            body = body.replace(VERSION_MARK, version.encode())
            media_type += "; charset=utf-8"
        etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        files[name] = StaticFile(body=body, media_type=media_type, etag=etag)
    return StaticFolder(version=version, files=files)


def content_security_policy(request: Request) -> str:
    """This origin only; the voice websocket named explicitly for browsers whose `'self'`
    does not yet cover ws: and wss:."""
    host = request.headers.get("host") or request.url.netloc
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


def _send(request: Request, name: str, *, cache_control: str) -> Response:
    file = static_folder().files.get(name)
    if file is None:
        raise NotFoundError(f"no file {name!r}")
    headers = {
        "etag": file.etag,
        "cache-control": cache_control,
        "content-security-policy": content_security_policy(request),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }
    if file.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content=file.body, media_type=file.media_type, headers=headers)


@router.get("/")
async def traveller_page(request: Request) -> Response:
    return _send(request, "index.html", cache_control=REVALIDATE)


@router.get("/widget.js")
async def widget(request: Request) -> Response:
    return _send(request, "widget.js", cache_control=REVALIDATE)


@router.get("/console")
async def console_page(request: Request) -> Response:
    return _send(request, "console.html", cache_control=REVALIDATE)


class WebConfig(BaseModel):
    development: bool
    voice: bool
    sandbox_travellers: list[dict[str, str]] = []
    development_content_key: str | None = None


@router.get("/web/config.json")
async def web_config(services: ServicesDep) -> Response:
    settings = services.settings
    config = WebConfig(development=settings.is_development, voice=settings.voice_enabled)
    if settings.is_development:
        config.sandbox_travellers = [
            {"traveller_id": p.traveller_id, "name": _display_name(p)} for p in SANDBOX_PROFILES
        ]
        # Only the published default key (README, `yatri ingest`), never one an operator set.
        if settings.content_api_key.get_secret_value() == DEFAULT_CONTENT_KEY:
            config.development_content_key = DEFAULT_CONTENT_KEY
    return Response(
        content=config.model_dump_json(),
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    traveller_id: str = Field(max_length=64)


@router.post("/web/dev-token")
async def dev_token(body: DevTokenRequest, services: ServicesDep) -> dict[str, Any]:
    """A development server's sign-in for the sandbox travellers; 404 anywhere else."""
    settings = services.settings
    known = {p.traveller_id for p in SANDBOX_PROFILES}
    if not settings.is_development or body.traveller_id not in known:
        raise NotFoundError("development sign-in is not available")
    token = issue_token(
        secret=settings.secret_key.get_secret_value(),
        sub=body.traveller_id,
        scope=TRAVELLER_SCOPE,
        ttl_s=DEV_TOKEN_TTL_S,
    )
    return {"token": token, "traveller_id": body.traveller_id, "expires_in_s": DEV_TOKEN_TTL_S}


@router.get("/web/{name}")
async def asset(name: str, request: Request) -> Response:
    versioned = request.query_params.get("v") == static_folder().version
    return _send(request, name, cache_control=IMMUTABLE if versioned else REVALIDATE)


def _display_name(profile: TravellerProfile) -> str:
    me = next((p for p in profile.passengers if p.relation == "self"), None)
    return f"{me.first_name} {me.last_name}" if me else profile.traveller_id
