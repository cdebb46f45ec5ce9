"""The content team's console in a real browser: sign in with the content credential, drop
files on the page (each with its progress and outcome: added, unchanged, failed with the
reason), see the document in the table, ask a question answered from it with its confidence
and citations, and delete it after confirming."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI

from core.settings import Settings
from tests.web_support import (
    Page,
    PageErrors,
    chromium,
    expect,
    needs_chromium,
    new_page,
    screenshot,
    served,
)

pytestmark = needs_chromium


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A catalog of its own: the tests of one process share a Redis."""
    return settings.model_copy(update={"redis_namespace": f"web-{uuid.uuid4().hex[:8]}"})


PET_POLICY = """---
doc_id: palmair-pets
title: PalmAir Pets in Cabin
vertical: flights
supplier: PalmAir
effective_date: 2026-07-01
---

# PalmAir Pets in Cabin

## Small Pets

A cat or a small dog may travel in the cabin in a soft carrier weighing at most 6 kg with the pet.
The pet fee is ₹2,500 per flight on domestic routes.

## Service Dogs

Trained service dogs travel free of charge in the cabin with their handler.
"""

# Drag and drop as a person does it: a DataTransfer holding files, dropped on the zone.
DROP = """([zone, files]) => {
  const transfer = new DataTransfer();
  for (const [name, text] of files) transfer.items.add(new File([text], name));
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
  }
}"""


async def _drop(page: Page, files: list[tuple[str, str]]) -> None:
    zone = await page.locator("#drop").element_handle()
    await page.evaluate(DROP, [zone, files])


@needs_chromium
async def test_console_uploads_shows_answers_from_and_deletes_a_document(app: FastAPI) -> None:
    async with served(app) as base, chromium() as browser:
        page = await new_page(browser, width=1200, height=1000)
        errors = PageErrors(page)
        await page.goto(base + "/console")
        await expect(page.locator("#work")).to_be_hidden()
        await page.get_by_role("button", name="Use the development key").click()
        await expect(page.get_by_role("status")).to_have_text("Signed in.")
        table = page.get_by_role("table")
        await expect(table.locator("caption")).to_have_text("0 live policy documents")

        await _drop(page, [("palmair-pets.md", PET_POLICY), ("broken.pdf", "not a pdf at all")])
        uploads = page.get_by_role("list", name="Uploads")
        added = uploads.locator('li[data-file="palmair-pets.md"]')
        await expect(added).to_have_attribute("data-outcome", "added")
        await expect(added).to_contain_text("palmair-pets v1")
        assert await added.locator("progress").get_attribute("value") == "100"
        failed = uploads.locator('li[data-file="broken.pdf"]')
        await expect(failed).to_have_attribute("data-outcome", "failed")
        assert "failed:" in await failed.inner_text()

        row = table.locator('tr[data-doc-id="palmair-pets"]')
        await expect(row).to_be_visible()
        cells = await row.locator("th, td").all_inner_texts()
        assert cells[:3] == ["palmair-pets", "PalmAir Pets in Cabin", "1"], cells
        assert int(cells[3]) >= 2 and cells[4] == "0" and cells[5] == "2026-07-01", cells

        await _drop(page, [("palmair-pets.md", PET_POLICY)])  # the same file again
        await expect(uploads.locator('li[data-outcome="unchanged"]')).to_have_count(1)

        await page.get_by_role("textbox", name="Question").fill(
            "How heavy can my cat's carrier be on PalmAir?"
        )
        await page.get_by_role("button", name="Ask").click()
        answer = page.locator("#answer")
        await expect(answer.locator(".answer-text")).to_contain_text("6 kg")
        await expect(answer.locator(".confidence")).to_contain_text("grounded")
        await expect(answer.locator(".citation").first).to_contain_text("palmair-pets")
        await expect(answer.locator(".citation").first).to_contain_text("Small Pets")
        await screenshot(page, "console")

        await row.get_by_role("button", name="Delete palmair-pets").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Delete palmair-pets?")
        await dialog.get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(0)
        await expect(table.locator("caption")).to_have_text("0 live policy documents")
        assert not errors.seen, errors.seen
