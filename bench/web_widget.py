"""The traveller's widget in a real browser against a real `yatri serve` (voice on): page
weight on a first load and a reload, time to the first reply text and the first reply audio
for a spoken request through Chromium's fake microphone, and a typed search's time to its
cards; each beside a peer measured in the same run against the same server without the
browser (the same WAV streamed in real time over WS /v1/voice/stream from Python; the same
text posted to /v1/chat).

    python bench/web_widget.py [--voice-runs 3] [--text-runs 5]

Needs Debian's chromium (/usr/bin/chromium) and playwright (the dev extra).

Speech end, both ways: the send time of the last frame holding an audible sample (as in
bench/voice_latency.py); in the browser a wrapper around `WebSocket.send` that the bench
injects notes it (the fake microphone's silence is digital zero). First reply text: the
widget's `yatri:reply` mark (the reply drawn), the peer's `reply` event. First reply audio:
when the widget schedules the first sentence's buffer (`yatri:first-audio`, 20 ms ahead), the
peer's first `audio` event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from _serve import YatriProcess
from playwright.async_api import Page, async_playwright
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

CHROMIUM = "/usr/bin/chromium"
CLIP = Path(__file__).parent.parent / "tests" / "data" / "voice" / "delhi_mumbai_25_december.wav"
LEAD_S = 1.0
TAIL_S = 14.0
TEXT = "flights from Delhi to Mumbai on 25 December"
NO_ECHO_CANCELLATION = "window.YatriWidgetOptions = {echoCancellation: false};"
# Speech end in the browser, by the peer's rule: when the page sends the last frame that holds
# an audible sample (|x| > 500, as the clip's last audible sample is found). The fake
# microphone's silence is digital zero and the reply is not captured, so the last loud frame
# sent before the reply is the clip's end.
LAST_LOUD_FRAME = """(() => {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (data instanceof ArrayBuffer && !window.__yatriReplyAt) {
      const samples = new Int16Array(data);
      for (let i = 0; i < samples.length; i++) {
        if (Math.abs(samples[i]) > 500) { window.__yatriLastLoudAt = performance.now(); break; }
      }
    }
    return send.call(this, data);
  };
})();"""
# Every stream comes from loopback, and a run's stream may still be closing when the next one
# opens: the per-source limits opened to the process, as in bench/voice_latency.py.
SERVER_ENV = {
    "YATRI_VOICE_ENABLED": "true",
    "YATRI_SUPPLIER_LATENCY_MS": "0",
    "YATRI_VOICE_MAX_STREAMS_PER_SOURCE": "8",
    "YATRI_VOICE_ANONYMOUS_SHARE": "1",
    "YATRI_VOICE_NEW_CALLER_SHARE": "0",
}


def build_wav(path: Path) -> tuple[bytes, float]:
    """The clip between silences; the offset (s) of its last audible sample."""
    with wave.open(str(CLIP), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    last_audible = (int(loud[-1]) if len(loud) else len(samples)) / 16_000
    full = bytes(int(2 * 16_000 * LEAD_S)) + pcm + bytes(int(2 * 16_000 * TAIL_S))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(full)
    return full, LEAD_S + last_audible


async def marks(page: Page) -> dict[str, float]:
    found: dict[str, float] = await page.evaluate(
        "() => Object.fromEntries(performance.getEntriesByType('mark')"
        ".filter(m => m.name.startsWith('yatri:')).reverse().map(m => [m.name, m.startTime]))"
    )
    return found  # the first of each name (reversed, so the earliest wins)


class Refused(Exception):
    """The server refused the stream (1013: no slot, or decoding is busy): try again later."""


async def retried(attempt: Callable[[], Awaitable[dict[str, float]]]) -> dict[str, float]:
    """One run, tried again after a pause while the server refuses the stream (counted)."""
    for _ in range(6):
        try:
            return await attempt()
        except (Refused, ConnectionClosedError) as e:
            REFUSALS.append(str(e))
            await asyncio.sleep(5)
    raise RuntimeError(f"refused six times: {REFUSALS[-1]}")


REFUSALS: list[str] = []


async def page_weight(base: str) -> dict[str, int]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = await browser.new_context()
        page = await context.new_page()
        sizes: dict[str, int] = {}
        for load in ("first", "reload"):
            if load == "first":
                await page.goto(base + "/")
            else:
                await page.reload()
            await page.wait_for_selector("yatri-widget[data-ready]")
            await page.wait_for_load_state("networkidle")
            entries: list[dict[str, Any]] = await page.evaluate(
                "() => performance.getEntriesByType('navigation').concat("
                "performance.getEntriesByType('resource')).map(e => ({name: e.name, "
                "transfer: e.transferSize, body: e.decodedBodySize}))"
            )
            sizes[f"{load}_transfer"] = sum(int(e["transfer"]) for e in entries)
            sizes[f"{load}_body"] = sum(int(e["body"]) for e in entries)
            sizes[f"{load}_requests"] = len(entries)
        await browser.close()
    return sizes


async def browser_voice(base: str, wav: Path) -> dict[str, float]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={wav}%noloop",
                  "--autoplay-policy=no-user-gesture-required"],
        )  # fmt: skip
        page = await browser.new_page()
        await page.add_init_script(NO_ECHO_CANCELLATION)
        await page.add_init_script(LAST_LOUD_FRAME)
        await page.goto(base + "/")
        await page.wait_for_selector("yatri-widget[data-ready]")
        await page.get_by_role("button", name="Speak").click()
        # A transcript, or the widget's notice that the stream was refused (1013: busy).
        await page.wait_for_selector(
            "yatri-widget[data-last-transcript], yatri-widget[data-voice-state=idle]",
            timeout=90_000,
        )
        if await page.locator("yatri-widget").get_attribute("data-last-transcript") is None:
            notice = await page.get_by_role("alert").last.inner_text()
            await browser.close()
            raise Refused(notice)
        await page.evaluate("() => { window.__yatriReplyAt = performance.now(); }")
        await page.wait_for_selector('yatri-widget:not([data-audio-started="0"])', timeout=90_000)
        m = await marks(page)
        speech_end: float = await page.evaluate("() => window.__yatriLastLoudAt")
        await browser.close()
    return {
        "speech_end_to_reply_text": m["yatri:reply"] - speech_end,
        "speech_end_to_first_audio": m["yatri:first-audio"] - speech_end,
        "final_to_reply_text": m["yatri:reply"] - m["yatri:final"],
        "final_to_first_audio": m["yatri:first-audio"] - m["yatri:final"],
        "click_to_ready": m["yatri:ready"] - m["yatri:speak"],
    }


async def websocket_voice(base: str, pcm: bytes, speech_end_s: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        grant = (await http.post("/v1/voice/tokens", json={})).json()
    async with connect(grant["stream_url"]) as ws:
        await ws.send(orjson.dumps({"type": "start", "token": grant["token"]}).decode())
        while orjson.loads(await ws.recv())["type"] != "ready":
            pass
        times: dict[str, float] = {}

        async def receive() -> None:
            async for raw in ws:
                kind = orjson.loads(raw)["type"]
                if kind in ("final", "reply", "audio") and kind not in times:
                    times[kind] = time.perf_counter()
                if kind == "audio":
                    return

        receiver = asyncio.create_task(receive())
        step = 640  # 20 ms
        end_byte = int(speech_end_s * 32_000)
        started = time.perf_counter()
        speech_end = 0.0
        for n, i in enumerate(range(0, len(pcm), step)):
            if receiver.done():
                break
            await asyncio.sleep(max(0.0, started + n * 0.02 - time.perf_counter()))
            await ws.send(pcm[i : i + step])
            if i <= end_byte < i + step:
                speech_end = time.perf_counter()
        await asyncio.wait_for(receiver, timeout=60)
        await ws.send('{"type": "stop"}')
    return {
        "speech_end_to_reply_text": 1000 * (times["reply"] - speech_end),
        "speech_end_to_first_audio": 1000 * (times["audio"] - speech_end),
        "final_to_reply_text": 1000 * (times["reply"] - times["final"]),
        "final_to_first_audio": 1000 * (times["audio"] - times["final"]),
    }


async def browser_text(base: str, runs: int) -> list[float]:
    took = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        for _ in range(runs):
            page = await browser.new_page()
            await page.goto(base + "/")
            await page.wait_for_selector("yatri-widget[data-ready]")
            box = page.get_by_role("textbox", name="Message")
            await box.fill(TEXT)
            await box.press("Enter")
            await page.get_by_role("log").locator("article.flight").first.wait_for()
            m = await marks(page)
            took.append(m["yatri:reply-shown"] - m["yatri:send"])
            await page.close()
        await browser.close()
    return took


async def http_text(base: str, runs: int) -> list[float]:
    took = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for _ in range(runs):
            started = time.perf_counter()
            r = await http.post("/v1/chat", json={"text": TEXT})
            r.raise_for_status()
            took.append(1000 * (time.perf_counter() - started))
    return took


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):6.0f} ms, min {min(values):6.0f}, max {max(values):6.0f}"


async def main(args: argparse.Namespace) -> None:
    wav = Path(tempfile.mkdtemp(prefix="yatri-web-bench-")) / "speech.wav"
    pcm, speech_end_s = build_wav(wav)
    server = YatriProcess(env=SERVER_ENV)
    ready = server.start(timeout=240)
    print(f"yatri serve ready in {ready:.1f} s (load average {fmt_load()}); clip "
          f"{CLIP.name}, speech ends {speech_end_s:.2f} s into the WAV")  # fmt: skip
    try:
        weight = await page_weight(server.base)
        print("\npage weight of / (document, widget script and styles, config):")
        print(f"  first load: {weight['first_transfer']:,} bytes transferred "
              f"({weight['first_body']:,} bytes of content, {weight['first_requests']} requests)")  # fmt: skip
        print(f"  reload:     {weight['reload_transfer']:,} bytes transferred "
              f"({weight['reload_requests']} requests; versioned assets from cache, the rest 304)")  # fmt: skip

        # Warm both paths once (first decode, first synthesis), then alternate.
        await retried(lambda: websocket_voice(server.base, pcm, speech_end_s))
        await asyncio.sleep(2)
        rows: dict[str, list[dict[str, float]]] = {"browser": [], "websocket": []}
        for _ in range(args.voice_runs):
            rows["browser"].append(await retried(lambda: browser_voice(server.base, wav)))
            await asyncio.sleep(2)  # the last reply's synthesis ends with its stream
            rows["websocket"].append(
                await retried(lambda: websocket_voice(server.base, pcm, speech_end_s))
            )
            await asyncio.sleep(2)
        print(f"\nspoken request, {args.voice_runs} runs each (Delhi to Mumbai, 25 December):")
        for key in ("speech_end_to_reply_text", "speech_end_to_first_audio",
                    "final_to_reply_text", "final_to_first_audio"):  # fmt: skip
            for who in ("browser", "websocket"):
                print(f"  {key:27s} {who:9s} {summary([r[key] for r in rows[who]])}")
        print(f"  streams refused (1013) and tried again: {len(REFUSALS)}")
        print(f"  click Speak -> stream ready (browser): {summary([r['click_to_ready'] for r in rows['browser']])}")  # fmt: skip

        await http_text(server.base, 1)
        in_browser = await browser_text(server.base, args.text_runs)
        over_http = await http_text(server.base, args.text_runs)
        print(f"\ntyped search, {args.text_runs} runs each:")
        print(f"  Enter -> cards shown  browser   {summary(in_browser)}")
        print(f"  POST /v1/chat         httpx     {summary(over_http)}")
    finally:
        server.stop()
    print(f"\nload average (1, 5, 15 min) at the end: {fmt_load()}")


def fmt_load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voice-runs", type=int, default=3)
    parser.add_argument("--text-runs", type=int, default=5)
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    asyncio.run(main(parser.parse_args()))
