"""Shared by the browser tests: Debian's Chromium driven headless by Playwright against the real
app served by uvicorn on loopback, with a fake microphone that plays a WAV file."""

from __future__ import annotations

import datetime as dt
import os
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.voice_support import serve

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError:  # in the dev extra; an install without it skips the browser tests
    pytest.skip("the browser tests need playwright (the dev extra)", allow_module_level=True)

__all__ = ["Browser", "Page", "PageErrors", "chromium", "expect", "needs_chromium", "new_page",
           "screenshot", "served", "travel_day", "write_wav"]  # fmt: skip

CHROMIUM = Path(os.environ.get("YATRI_CHROMIUM", "/usr/bin/chromium"))
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"the browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium "
    "(.ci/run installs it when missing; `playwright install` cannot download here)",
)
# Where screenshots go: docs/screenshots when YATRI_WEB_SCREENSHOTS names it (the README's
# pictures are taken that way); otherwise nowhere kept.
SCREENSHOTS = os.environ.get("YATRI_WEB_SCREENSHOTS")
UI_TIMEOUT_MS = 60_000  # a reply on a loaded 2-core host, speech models included
expect.set_options(timeout=UI_TIMEOUT_MS)


@asynccontextmanager
async def chromium(
    *, microphone: bool = True, fake_audio: Path | None = None
) -> AsyncIterator[Browser]:
    """A headless Chromium with a fake microphone (a beep, or `fake_audio` played once);
    `microphone=False` refuses it, as a traveller's "Block" would."""
    args = ["--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream"]
    args.append("--use-fake-ui-for-media-stream" if microphone else "--deny-permission-prompts")
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}%noloop")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        try:
            yield browser
        finally:
            await browser.close()


class PageErrors:
    """Script errors and console errors (a CSP violation is one) seen by a page."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("pageerror", lambda e: self.seen.append(f"pageerror: {e}"))
        page.on(
            "console",
            lambda m: self.seen.append(f"console: {m.text}") if m.type == "error" else None,
        )


async def new_page(browser: Browser, *, width: int = 1000, height: int = 900) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    return page


async def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a loopback port; its http:// base URL."""
    base, stop = await serve(app)
    try:
        yield base.replace("ws://", "http://")
    finally:
        await stop()


def travel_day(days: int = 14) -> str:
    """A date in the booking window, as a traveller types it ("19 December")."""
    day = dt.date.today() + dt.timedelta(days=days)
    return f"{day.day} {day:%B}"


def write_wav(path: Path, pcm16k: bytes) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(pcm16k)
    return path
