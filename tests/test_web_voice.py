"""The widget's voice in a real browser: Chromium's fake microphone plays a recorded clip into
getUserMedia, the widget's AudioWorklet sends it as 16 kHz PCM16 over WS /v1/voice/stream to
the real app (faster-whisper, Silero, Piper), and the reply is shown and played; speaking over
the reply stops it (barge-in)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tests.voice_support import app, clip, settings, silence, voice_engines
from tests.web_support import (
    Page,
    PageErrors,
    chromium,
    expect,
    needs_chromium,
    new_page,
    screenshot,
    served,
    write_wav,
)

# The fixtures this module uses, imported by name.
__all__ = ["app", "settings", "voice_engines"]

pytestmark = needs_chromium

# With echo cancellation on, Chromium's processing garbles a file played as a microphone
# ("Delhi" heard as "Belly"); a traveller's page keeps it on.
NO_ECHO_CANCELLATION = "window.YatriWidgetOptions = {echoCancellation: false};"


async def _stat(page: Page, name: str) -> int:
    value = await page.locator("yatri-widget").get_attribute(f"data-{name}")
    return int(value or 0)


async def _speak(page: Page, base: str) -> None:
    await page.add_init_script(NO_ECHO_CANCELLATION)
    await page.goto(base + "/")
    await page.get_by_role("button", name="Speak").click()
    widget = page.locator("yatri-widget")
    await expect(widget).to_have_attribute("data-voice-state", "listening")


async def test_a_spoken_request_shows_transcript_reply_and_plays_the_audio(
    app: FastAPI, tmp_path: Path
) -> None:
    wav = write_wav(
        tmp_path / "speech.wav",
        silence(500) + clip("delhi_mumbai_25_december.wav") + silence(20_000),
    )
    async with served(app) as base, chromium(fake_audio=wav) as browser:
        page = await new_page(browser)
        errors = PageErrors(page)
        await _speak(page, base)
        log = page.get_by_role("log")
        heard = log.locator(".msg.user.spoken")
        await expect(heard).to_be_visible()
        assert "Mumbai" in await heard.inner_text()
        await expect(log.locator("article.flight").first).to_be_visible()
        await expect(page.locator("yatri-widget")).to_have_attribute("data-voice-state", "speaking")
        await expect(page.get_by_role("status")).to_contain_text("Speaking")
        await screenshot(page, "widget-voice")
        # The first sentence is played to its end.
        await expect(page.locator("yatri-widget")).not_to_have_attribute("data-audio-ended", "0")
        assert await _stat(page, "audio-received") >= 1
        await page.get_by_role("button", name="Stop voice").click()
        await expect(page.locator("yatri-widget")).to_have_attribute("data-voice-state", "idle")
        assert not errors.seen, errors.seen


async def test_speaking_over_the_reply_stops_its_playback(app: FastAPI, tmp_path: Path) -> None:
    # The second request starts 14 s after the first ends: the first reply (a list of flights,
    # about half a minute of speech) is playing by then, even on a loaded host.
    wav = write_wav(
        tmp_path / "barge-in.wav",
        silence(500)
        + clip("delhi_mumbai_25_december.wav")
        + silence(14_000)
        + clip("two_adults_bangalore_goa.wav")
        + silence(15_000),
    )
    async with served(app) as base, chromium(fake_audio=wav) as browser:
        page = await new_page(browser)
        errors = PageErrors(page)
        await _speak(page, base)
        widget = page.locator("yatri-widget")
        await expect(widget).to_have_attribute("data-voice-state", "speaking")
        await expect(widget).not_to_have_attribute("data-clears", "0", timeout=45_000)
        assert await _stat(page, "audio-stopped") >= 1  # playback cut, not played out
        log = page.get_by_role("log")
        await expect(log.locator(".msg.user.spoken")).to_have_count(2, timeout=45_000)
        assert "Goa" in await log.locator(".msg.user.spoken").last.inner_text()
        await expect(log.locator(".msg.bot", has_text="Goa")).to_be_visible()
        assert not errors.seen, errors.seen
