"""A real browser for the tests: Debian's chromium, driven by Playwright for Python
(no downloaded browser build), started headless with no background networking, and
every request it makes recorded, so a test can show that none left 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("CORRIDOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def need_chromium() -> None:
    """Skip without chromium, except under CI, where its absence is a failure."""
    if os.path.exists(CHROMIUM):
        return
    reason = f"no chromium at {CHROMIUM} (Debian's package chromium; .ci/run installs it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def browser_page(requests: list[str]) -> AsyncIterator:
    """A page of a fresh headless chromium; each URL it asks for is appended to `requests`."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            yield page
        finally:
            await browser.close()


def outside(requests: list[str]) -> list[str]:
    """The requests that went anywhere but 127.0.0.1."""
    return [url for url in requests if urlsplit(url).hostname not in ("127.0.0.1",) and not url.startswith("data:")]
