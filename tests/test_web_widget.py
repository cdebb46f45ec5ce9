"""The traveller's widget in a real browser (Debian's Chromium, headless, through Playwright)
against the real app on loopback: flight cards, policy citations, a booking made by clicking
quick replies, the widget on a foreign page, Hindi interface text, a refused microphone; and
the static files' cache and security headers."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.routes.web import IMMUTABLE, static_folder
from tests.web_support import (
    PageErrors,
    chromium,
    expect,
    needs_chromium,
    new_page,
    screenshot,
    served,
    travel_day,
)

POLICY = Path(__file__).parent.parent / "examples" / "policies" / "skyindia-baggage-2026.md"

# --- files and headers (no browser) ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/widget.js", "/console"])
async def test_pages_revalidate_with_etag_and_carry_a_same_origin_csp(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "ws://yatri.test" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    again = await client.get(path, headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content
    # No inline script or style: the CSP would refuse it anyway.
    if path != "/widget.js":
        assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), r.text
        assert "<style" not in r.text and " style=" not in r.text
        assert "http://" not in r.text and "https://" not in r.text.replace("https://YOUR", "")


async def test_assets_are_versioned_and_immutable(client: httpx.AsyncClient) -> None:
    version = static_folder().version
    page = await client.get("/")
    assert f"/web/page.css?v={version}" in page.text
    widget = await client.get("/widget.js")
    assert version in widget.text and "__YATRI_VERSION__" not in widget.text
    css = await client.get(f"/web/widget.css?v={version}")
    assert css.status_code == 200 and css.headers["cache-control"] == IMMUTABLE
    assert css.headers["content-type"].startswith("text/css")
    stale = await client.get("/web/widget.css?v=0000")
    assert stale.headers["cache-control"] == "no-cache"
    missing = await client.get("/web/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_dev_sign_in_only_for_sandbox_travellers(client: httpx.AsyncClient) -> None:
    config = (await client.get("/web/config.json")).json()
    assert config["development"] is True
    assert {t["traveller_id"] for t in config["sandbox_travellers"]} >= {"trv-sandbox-asha"}
    ok = await client.post("/web/dev-token", json={"traveller_id": "trv-sandbox-asha"})
    assert ok.status_code == 200
    me = await client.get(
        "/v1/travellers/me", headers={"authorization": f"Bearer {ok.json()['token']}"}
    )
    assert me.status_code == 200
    refused = await client.post("/web/dev-token", json={"traveller_id": "trv-someone-else"})
    assert refused.status_code == 404


async def test_web_routes_stay_out_of_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p in {"/", "/console", "/widget.js"} or p.startswith("/web")]


# --- in the browser ---------------------------------------------------------------------------


@needs_chromium
async def test_a_typed_search_shows_flight_cards_with_rupee_prices(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        page = await new_page(browser)
        errors = PageErrors(page)
        await page.goto(base + "/")
        message = page.get_by_role("textbox", name="Message")
        await message.focus()
        await page.keyboard.type(f"flights from Delhi to Mumbai on {travel_day()}")
        await page.keyboard.press("Enter")  # keyboard only
        log = page.get_by_role("log")
        cards = log.locator("article.flight")
        await expect(cards.first).to_be_visible()
        first = await cards.first.inner_text()
        assert re.search(r"₹[\d,]+", first), first
        assert "DEL" in first and "BOM" in first and re.search(r"\d+h \d\dm", first), first
        assert re.search(r"Refundable|Non-refundable", first), first
        assert await cards.count() >= 3
        await expect(log).to_contain_text("I found")
        await expect(page.get_by_role("button", name="Choose 1", exact=True)).to_be_visible()
        await screenshot(page, "widget-flights")
        assert not errors.seen, errors.seen


@needs_chromium
async def test_a_hotel_search_shows_hotel_cards(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        page = await new_page(browser)
        errors = PageErrors(page)
        await page.goto(base + "/")
        message = page.get_by_role("textbox", name="Message")
        await message.fill(f"hotels in Goa from {travel_day(18)} for 2 nights")
        await message.press("Enter")
        cards = page.get_by_role("log").locator("article.hotel")
        await expect(cards.first).to_be_visible()
        first = await cards.first.inner_text()
        assert re.search(r"₹[\d,]+", first) and "-star" in first, first
        assert "total with taxes" in first, first
        assert not errors.seen, errors.seen


@needs_chromium
async def test_a_policy_question_shows_its_citations(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            upload = await http.post(
                "/v1/documents",
                headers={"authorization": "Bearer dev-content-key"},
                files={"files": (POLICY.name, POLICY.read_bytes(), "text/markdown")},
            )
            assert upload.json()["results"][0]["outcome"] == "added", upload.text
        page = await new_page(browser)
        errors = PageErrors(page)
        await page.goto(base + "/")
        message = page.get_by_role("textbox", name="Message")
        await message.fill("How much cabin baggage can I carry on a SkyIndia domestic flight?")
        await page.get_by_role("button", name="Send").click()
        citation = page.get_by_role("log").locator("article.policy li.citation").first
        await expect(citation).to_be_visible()
        text = await citation.inner_text()
        assert "skyindia-baggage-2026" in text and "Section:" in text, text
        assert "8 kg" in await citation.locator("blockquote").inner_text()
        await screenshot(page, "widget-policy")
        assert not errors.seen, errors.seen


@needs_chromium
async def test_a_whole_booking_by_clicking_quick_replies(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        page = await new_page(browser, width=420, height=860)  # a phone's screen
        errors = PageErrors(page)
        await page.goto(base + "/")
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("button", name="Development sign-in as Asha Rao").click()
        await expect(page.get_by_text("Signed in as Asha Rao")).to_be_visible()
        message = page.get_by_role("textbox", name="Message")
        await message.fill(f"flights from Bengaluru to Delhi on {travel_day(16)}")
        await message.press("Enter")
        log = page.get_by_role("log")
        await expect(log.locator("article.flight").first).to_be_visible()
        quick = page.get_by_role("group", name="Quick replies")
        await quick.get_by_role("button", name="Choose 1").click()
        await quick.get_by_role("button", name="Just me").click()
        await expect(log).to_contain_text("Shall I book it?")
        await quick.get_by_role("button", name="Yes, book it").click()
        booking = log.locator("article.booking")
        await expect(booking).to_be_visible()
        summary = await booking.inner_text()
        assert re.search(r"PNR\s+[A-Z0-9]{6}", summary), summary
        assert "confirmed" in summary, summary
        await expect(log).to_contain_text("Booked! Your PNR is")
        await screenshot(page, "widget-booking")
        assert not errors.seen, errors.seen


HOST_PAGE = """<!doctype html><html><head><title>Partner travel shop</title>
<style>button { color: rgb(255, 0, 0); } body { font-family: serif; color: rgb(0, 128, 0); }
p { font-size: 30px; }</style></head>
<body><h1>Partner shop</h1><p>Our own page.</p><button id="own">Own button</button>
<script src="/widget.js" defer></script></body></html>"""


@needs_chromium
async def test_the_widget_on_a_foreign_page_works_and_leaves_its_styles_alone(
    app: FastAPI,
) -> None:
    async with served(app) as base, chromium() as browser:
        page = await new_page(browser)
        errors = PageErrors(page)
        partner = base + "/partner/shop.html"  # answered by the test, not by Yatri
        await page.route(partner, lambda route: route.fulfill(body=HOST_PAGE, content_type="text/html"))  # fmt: skip
        await page.goto(partner)
        own = page.locator("#own")
        before = await own.evaluate("b => [getComputedStyle(b).color, document.styleSheets.length]")
        await page.get_by_role("button", name="Chat with Yatri").click()
        message = page.get_by_role("textbox", name="Message")
        await message.fill(f"flights from Delhi to Goa on {travel_day(20)}")
        await message.press("Enter")
        await expect(page.get_by_role("log").locator("article.flight").first).to_be_visible()
        after = await own.evaluate("b => [getComputedStyle(b).color, document.styleSheets.length]")
        assert before == after == ["rgb(255, 0, 0)", 1], (before, after)
        assert await page.locator("p").first.evaluate("p => getComputedStyle(p).fontSize") == "30px"
        # ... and the page's styles stay out of the widget.
        send = page.get_by_role("button", name="Send")
        assert await send.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"
        reply = page.get_by_role("log").locator(".msg.bot .text").last
        assert await reply.evaluate("t => getComputedStyle(t).color") != "rgb(0, 128, 0)"
        await screenshot(page, "widget-embedded")
        assert not errors.seen, errors.seen


@needs_chromium
async def test_hindi_interface_text_and_back(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        page = await new_page(browser)
        await page.goto(base + "/")
        await page.get_by_role("button", name="Switch the interface to Hindi").click()
        await expect(page.get_by_role("textbox", name="संदेश")).to_be_visible()
        await expect(page.get_by_role("button", name="बोलें")).to_be_visible()
        await expect(page.get_by_role("log", name="बातचीत")).to_be_visible()
        await screenshot(page, "widget-hindi")
        await page.get_by_role("button", name="इंटरफ़ेस अंग्रेज़ी में बदलें").click()
        await expect(page.get_by_role("textbox", name="Message")).to_be_visible()


@needs_chromium
async def test_a_refused_microphone_is_said_and_text_goes_on(app: FastAPI) -> None:
    async with served(app) as base, chromium(microphone=False) as browser:
        page = await new_page(browser)
        await page.goto(base + "/")
        await page.get_by_role("button", name="Speak").click()
        await expect(page.get_by_role("alert")).to_contain_text("microphone is blocked")
        await expect(page.get_by_role("button", name="Speak")).to_have_attribute("aria-pressed", "false")  # fmt: skip
        message = page.get_by_role("textbox", name="Message")
        await message.fill(f"flights from Delhi to Mumbai on {travel_day()}")
        await message.press("Enter")
        await expect(page.get_by_role("log").locator("article.flight").first).to_be_visible()


@needs_chromium
async def test_a_closed_voice_stream_is_said_and_text_goes_on(app: FastAPI) -> None:
    # This app runs without speech models: the stream is closed (1011) right after the start.
    async with served(app) as base, chromium() as browser:
        page = await new_page(browser)
        await page.goto(base + "/")
        await page.get_by_role("button", name="Speak").click()
        await expect(page.get_by_role("alert")).to_contain_text("You can keep typing")
        await expect(page.locator("yatri-widget")).to_have_attribute("data-voice-state", "idle")
        message = page.get_by_role("textbox", name="Message")
        await expect(message).to_be_focused()
        await message.fill(f"flights from Delhi to Mumbai on {travel_day()}")
        await message.press("Enter")
        await expect(page.get_by_role("log").locator("article.flight").first).to_be_visible()
