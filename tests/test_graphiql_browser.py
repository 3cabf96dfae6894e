"""GraphiQL in a real browser, offline: the page loads from the service alone, takes the
API key once, and runs a query whose answer it shows; no request leaves 127.0.0.1."""

from __future__ import annotations

from tests.browser import browser_page, need_chromium, outside


async def test_graphiql_runs_a_query_with_the_key_and_nothing_leaves_the_machine(served, tmp_path):
    need_chromium()
    requests: list[str] = []
    async with browser_page(requests) as page:
        await page.goto(f"{served.url}/graphql")
        await page.wait_for_selector(".graphiql-container", timeout=30_000)
        await page.fill("#key", served.operator_key)
        await page.click("#use-key")  # kept in session storage; the page reloads with it
        await page.wait_for_selector(".graphiql-container", timeout=30_000)
        assert await page.input_value("#key") == served.operator_key
        editor = page.locator(".graphiql-query-editor .CodeMirror").first
        await editor.click()
        await page.keyboard.press("Control+A")
        await page.keyboard.type("{ viewer { role } }")
        await page.click(".graphiql-execute-button")
        result = page.locator(".graphiql-response")
        await result.get_by_text('"OPERATOR"').wait_for(timeout=30_000)
        await page.screenshot(path=str(tmp_path / "graphiql.png"))
    assert requests, "the browser asked for nothing"
    assert outside(requests) == [], outside(requests)
