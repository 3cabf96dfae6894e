"""The dashboard at `/` in a real browser, offline, against `corridor serve` with the demo
network: each page draws its charts and shows the API's exact decimals; a payment sent
through the API appears live in the latest payments and in its tracker; an operator
closes and settles windows from the page, and sees the API's refusals as it words them;
a key without the rights for a page is told why; without the socket the page keeps its
query results. No request leaves 127.0.0.1. Screenshots go under each test's tmp_path.

The page and its assets themselves (versioned, cached a year, a closed list, the page
without `make assets`) are checked without a browser, on the routes `dashboard.routes()`
gives the application."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette

from corridor import dashboard
from tests.browser import browser_page, need_chromium, outside

SECONDS = 30_000  # the longest a page may take to show what a test waits for, in ms
# The demo's accounts of the README's sendPayment example: Sberbank's CNY customer
# account pays Bank of China's Customer A, over CIPS (RTGS: settled at once).
SEND_PAYMENT = """mutation($uetr: UUID!) { sendPayment(input: {uetr: $uetr, senderBic: "SABRRUMM",
  receiverBic: "BKCHCNBJ", debtorAccountId: "QWNjb3VudDo0Nw", creditorAccountId: "QWNjb3VudDoxNg",
  amount: "1234.56", currency: "CNY", remittanceInformation: "dashboard test"}) {
  payment { status } errors { code message } } }"""
CHART_DATA = """name => {
  const canvas = document.querySelector(`canvas[data-chart="${name}"]`);
  const chart = canvas && window.Chart.getChart(canvas);
  return chart ? chart.data.datasets.map((set) => set.data.filter((value) => value !== null)) : null;
}"""


def expect(locator):
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(locator)


async def api(served, query: str, variables: dict | None = None, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key or served.operator_key}"}
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def use_key(page, key: str, role: str) -> None:
    await page.fill("#key", key)
    await page.click("#use-key")
    await expect(page.locator("#key-state")).to_contain_text(f"{role} key", timeout=SECONDS)


async def open_dashboard(page, served, key: str, role: str) -> None:
    await page.goto(f"{served.url}/")
    await page.wait_for_selector("#key-bar", timeout=SECONDS)
    await use_key(page, key, role)


async def visit(page, route: str) -> None:
    """Go to a page of the dashboard through its hash router (the document stays)."""
    await page.evaluate("route => { window.location.hash = route; }", f"#/{route}")
    await page.wait_for_selector(f'.page[data-page="{route.split("?")[0]}"]', timeout=SECONDS)


async def chart_data(page, name: str) -> list[list[float]]:
    """The figures Chart.js holds for one chart of the page, once it is drawn."""
    await page.wait_for_selector(f'canvas[data-chart="{name}"]', timeout=SECONDS)
    data = await page.evaluate(CHART_DATA, name)
    assert data is not None, f"no Chart.js chart on canvas {name}"
    return data


async def shows(page, *texts: str) -> None:
    for text in texts:
        await expect(page.locator("main")).to_contain_text(text, timeout=SECONDS)


def grouped(amount: Decimal, currency: str) -> str:
    return f"{amount:,} {currency}"


async def test_every_page_draws_its_charts_and_shows_the_exact_decimals(served, tmp_path):
    need_chromium()
    shares = (await api(served, "{ currencyShares { currency value { amount currency } } }"))["currencyShares"]
    total = sum(Decimal(share["value"]["amount"]) for share in shares)
    requests: list[str] = []
    async with browser_page(requests) as page:
        await page.set_viewport_size({"width": 1280, "height": 900})
        await open_dashboard(page, served, served.operator_key, "OPERATOR")

        await visit(page, "overview")
        await expect(page.locator('[data-tile="total"]')).to_contain_text(grouped(total, "USD"), timeout=SECONDS)
        [by_currency] = await chart_data(page, "value-by-currency")
        assert len(by_currency) == len(shares) and all(value > 0 for value in by_currency)
        assert any(sum(values) > 0 for values in await chart_data(page, "value-over-time"))
        await shows(page, *(grouped(Decimal(share["value"]["amount"]), "USD") for share in shares))
        await page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

        await visit(page, "corridors?a=RU&b=IR&since=2021-01")
        await expect(page.locator('[data-tile="total"]')).to_have_text(re.compile("100,000.00 USD"), timeout=SECONDS)
        await expect(page.locator('[data-tile="usd-share"]')).to_contain_text("40%")
        await expect(page.locator('[data-tile="local-share"]')).to_contain_text("60%")
        await shows(page, "60,000.00 USD", "40,000.00 USD")
        assert sorted((await chart_data(page, "corridor-shares"))[0]) == [40000.0, 60000.0]
        usd, local = await chart_data(page, "corridor-monthly-shares")
        assert usd[0] == 100 and local[-1] == 100  # 2021's payments in USD, the later ones in rubles
        assert sum((await chart_data(page, "corridor-monthly-value"))[0]) == 100000.0
        await page.screenshot(path=str(tmp_path / "corridors.png"), full_page=True)

        await visit(page, "reserves?country=CN&at=2024-03-31")
        await shows(page, "933,937,723,116.15 USD", "170,937,723,116.15 USD", "763,000,000,000.00 USD")
        await shows(page, "2,262.45 tonnes")
        treasuries, gold = await chart_data(page, "reserve-history")
        assert treasuries == [816300000000, 763000000000] and gold == [2235.39, 2262.45]
        assert len((await chart_data(page, "reserve-composition"))[0]) == 2
        await page.screenshot(path=str(tmp_path / "reserves.png"), full_page=True)

        await visit(page, "indices?since=2021-01&until=2024-01")
        await expect(page.locator('[data-tile="dollar-index"]')).to_contain_text("104.185795", timeout=SECONDS)
        await expect(page.locator('[data-tile="basket-value"]')).to_contain_text("100.00 USD")
        [index] = await chart_data(page, "dollar-index")
        [basket] = await chart_data(page, "basket-history")
        assert len(index) == len(basket) == 37  # monthly, January 2021 to January 2024
        assert len(set(index)) > 10 and len(set(basket)) > 10  # curves, not flat lines
        await page.screenshot(path=str(tmp_path / "indices.png"), full_page=True)

        await visit(page, "payments")
        await shows(page, "250,000.00 RUB", "2,775,000.00 RUB", "REJECTED (RJCT RR04)")
        assert sum((await chart_data(page, "payments-by-status"))[0]) >= 15
        await page.screenshot(path=str(tmp_path / "payments.png"), full_page=True)

        await visit(page, "settlement")
        await shows(page, "5,550,000.00 RUB", "2,775,000.00 RUB", "50%", "6,000.00 RUB", "4,000.00 RUB")
        assert 50 in (await chart_data(page, "netting-efficiency"))[0]
        await page.screenshot(path=str(tmp_path / "settlement.png"), full_page=True)

        await visit(page, "cards")
        await shows(page, "12,832.09 RUB", "1,000,000.00 RUB", "62 declined", "INTERSCHEME", "DOMESTIC")
        codes = await page.evaluate("() => Chart.getChart(document.querySelector('[data-chart=response-codes]')).data")
        assert set(codes["labels"]) >= {"00", "51", "62"}
        await page.screenshot(path=str(tmp_path / "cards.png"), full_page=True)

        base = f"/dashboard/{dashboard.version()}"
        formatted = await page.evaluate(
            """async (base) => {
              const f = await import(`${base}/format.js`);
              const odd = { amount: "1E+3", currency: "XAU" };
              return [f.groupDigits("-1234567.891"), f.sumDecimals(["0.1", "0.2"]), f.money(odd)];
            }""",
            base,
        )
        assert formatted == ["-1,234,567.891", "0.3", "1E+3 XAU"]  # exact strings, never a float

        await page.reload()  # the key stays for the tab's session
        await expect(page.locator("#key-state")).to_contain_text("OPERATOR key", timeout=SECONDS)
        assert await page.input_value("#key") == served.operator_key
        await page.click("#forget-key")
        await expect(page.locator("main")).to_contain_text("Enter an API key", timeout=SECONDS)
        assert await page.evaluate("() => window.sessionStorage.getItem('corridor.apiKey')") is None
    assert requests, "the browser asked for nothing"
    assert outside(requests) == [], outside(requests)


async def test_a_payment_sent_through_the_api_appears_live_in_the_list_and_its_tracker(served, tmp_path):
    need_chromium()
    uetr = str(uuid.uuid4())
    requests: list[str] = []
    async with browser_page(requests) as page:
        await page.set_viewport_size({"width": 1280, "height": 900})
        await open_dashboard(page, served, served.operator_key, "OPERATOR")
        await visit(page, f"payments?uetr={uetr}")
        await shows(page, f"No payment with the UETR {uetr}")
        badges = page.locator(".live")
        await expect(badges).to_have_count(2, timeout=SECONDS)
        for badge in await badges.all():
            await expect(badge).to_have_attribute("data-state", "live", timeout=SECONDS)
        await page.wait_for_timeout(1000)  # the protocol acknowledges no subscription: let the server register both
        await page.evaluate("() => { window.notReloaded = true; }")

        sent = await api(served, SEND_PAYMENT, {"uetr": uetr})
        assert sent["sendPayment"] == {"payment": {"status": "SETTLED"}, "errors": []}

        row = page.locator(f'tr[data-key="{uetr}"]')
        await expect(row).to_contain_text("1,234.56 CNY", timeout=SECONDS)
        await expect(row).to_contain_text("SETTLED (ACCC)")
        assert await page.locator("table.live-table tbody tr").first.get_attribute("data-key") == uetr
        timeline = page.locator(".timeline li")
        await expect(timeline).to_have_count(3, timeout=SECONDS)
        assert [await item.get_attribute("data-status") for item in await timeline.all()] == [
            "RECEIVED",
            "ACCEPTED",
            "SETTLED",
        ]
        await expect(page.locator(".tracker .details")).to_contain_text("1,234.56 CNY", timeout=SECONDS)
        await expect(page.locator(".tracker .details")).to_contain_text("dashboard test")
        assert await page.evaluate("() => window.notReloaded") is True
        await page.screenshot(path=str(tmp_path / "payments-live.png"), full_page=True)
    assert outside(requests) == [], outside(requests)


def window_row(page, scope: str, state: str):
    return (
        page.locator("tr[data-window]")
        .filter(has=page.get_by_role("cell", name=scope, exact=True))
        .filter(has=page.get_by_role("cell", name=state, exact=True))
    )


async def confirm(page, answer: str) -> None:
    dialog = page.locator("dialog#confirm")
    await expect(dialog).to_be_visible(timeout=SECONDS)
    await page.click(f"#confirm-{answer}")
    await expect(dialog).to_be_hidden(timeout=SECONDS)


async def test_an_operator_closes_and_settles_windows_and_sees_the_refusals(served, tmp_path):
    need_chromium()
    requests: list[str] = []
    async with browser_page(requests) as page:
        await page.set_viewport_size({"width": 1280, "height": 900})
        await open_dashboard(page, served, served.operator_key, "OPERATOR")
        await visit(page, "settlement")
        outcome = page.locator(".outcome")

        # The demo's MIR RUB window is CLOSED and its FX provider short of rubles.
        await window_row(page, "MIR RUB", "CLOSED").locator("[data-action=settle]").click()
        await expect(page.locator("#confirm-text")).to_contain_text("Settle the CLOSED MIR RUB window")
        await confirm(page, "yes")
        await expect(outcome.locator(".error")).to_contain_text("SETTLEMENT_SHORTFALL", timeout=SECONDS)
        await expect(outcome).to_contain_text("CRFXAEAD is short by 3000.00 RUB to pay its net.")
        await expect(outcome).to_contain_text("(field windowId)")
        await expect(window_row(page, "MIR RUB", "CLOSED")).to_have_count(1)
        await page.screenshot(path=str(tmp_path / "settlement-shortfall.png"), full_page=True)

        spfs = window_row(page, "SPFS RUB", "OPEN")
        await expect(spfs).to_have_count(1)
        await spfs.locator("[data-action=close]").click()
        await confirm(page, "no")  # cancelled: nothing is sent
        await expect(spfs).to_have_count(1)
        await spfs.locator("[data-action=close]").click()
        await confirm(page, "yes")
        await expect(outcome.locator(".success")).to_contain_text("Closed the SPFS RUB window", timeout=SECONDS)
        await expect(outcome).to_contain_text("net 250,000.00 RUB")

        closed = window_row(page, "SPFS RUB", "CLOSED")
        await closed.locator("[data-action=settle]").click()
        await confirm(page, "yes")
        await expect(outcome.locator(".success")).to_contain_text("Settled the SPFS RUB window", timeout=SECONDS)
        await expect(closed).to_have_count(0, timeout=SECONDS)
        await page.screenshot(path=str(tmp_path / "settlement-settled.png"), full_page=True)
    windows = await api(served, '{ settlementWindows(scope: "SPFS", currency: "RUB") { edges { node { state } } } }')
    states = [edge["node"]["state"] for edge in windows["settlementWindows"]["edges"]]
    assert states.count("SETTLED") == 2 and "CLOSED" not in states and states[0] == "OPEN"
    assert outside(requests) == [], outside(requests)


async def test_a_key_without_the_rights_for_a_page_is_told_why(served, tmp_path):
    need_chromium()
    analyst = served.key("ANALYST")
    participant = served.key("PARTICIPANT", "SABRRUMM")
    requests: list[str] = []
    async with browser_page(requests) as page:
        await page.set_viewport_size({"width": 1280, "height": 900})
        await open_dashboard(page, served, analyst, "ANALYST")
        await visit(page, "payments")
        await shows(page, "This page is not for an ANALYST key", "An analyst sees no individual payment")
        await expect(page.locator(".live-table")).to_have_count(0)
        await page.screenshot(path=str(tmp_path / "payments-analyst.png"), full_page=True)
        await visit(page, "cards")
        await shows(page, "This page is not for an ANALYST key", "An analyst sees no card")
        await visit(page, "settlement")
        await shows(page, "Closing and settling windows is for OPERATOR keys", "5,550,000.00 RUB")
        await expect(page.locator("[data-action]")).to_have_count(0)

        await use_key(page, participant, "PARTICIPANT")
        await expect(page.locator("#key-state")).to_contain_text("SABRRUMM")
        await visit(page, "corridors?a=RU&b=IR")
        error = page.locator(".error")
        await expect(error).to_contain_text("FORBIDDEN", timeout=SECONDS)
        await expect(error).to_contain_text("A PARTICIPANT key may not read the flows of a corridor")
        await expect(error).to_contain_text("Corridor figures are for OPERATOR and ANALYST keys")
        await expect(page.locator("select[name=a]")).to_have_value("RU")  # the rest of the page works
        await page.screenshot(path=str(tmp_path / "corridors-participant.png"), full_page=True)
        await visit(page, "overview")  # network-wide shares are for participants too
        await chart_data(page, "value-by-currency")
    assert outside(requests) == [], outside(requests)


async def test_without_the_socket_a_page_keeps_its_query_results(served, tmp_path):
    need_chromium()
    requests: list[str] = []
    async with browser_page(requests) as page:
        await page.route_web_socket(re.compile(r"/graphql$"), lambda socket: socket.close(code=1011, reason="down"))
        await page.set_viewport_size({"width": 1280, "height": 900})
        await open_dashboard(page, served, served.operator_key, "OPERATOR")
        await visit(page, "payments")
        badge = page.locator(".live").last
        await expect(badge).to_have_attribute("data-state", "unavailable", timeout=SECONDS)
        await expect(badge).to_contain_text("Live updates unavailable")
        await shows(page, "250,000.00 RUB")
        assert await page.locator("table.live-table tbody tr").count() >= 15
        await chart_data(page, "payments-by-status")
        await page.screenshot(path=str(tmp_path / "payments-offline.png"), full_page=True)
    assert outside(requests) == [], outside(requests)


@pytest.fixture
async def client():
    app = Starlette(routes=dashboard.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://corridor.test") as client:
        yield client


async def test_the_page_and_its_assets_come_from_the_service(client):
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    static = [source for source in sources if not source.startswith(("#", "data:"))]
    assert static and all(source.startswith(f"/dashboard/{dashboard.version()}/") for source in static), sources
    for name, path in dashboard.ASSETS.items():
        asset = await client.get(f"/dashboard/{dashboard.version()}/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"].startswith(("text/javascript", "text/css"))
        assert asset.content == path.read_bytes()
    for wrong in (f"/dashboard/{dashboard.version()}/index.html", "/dashboard/000000000000/app.js"):
        refused = await client.get(wrong)
        assert refused.status_code == 404 and refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await client.get(f"/dashboard/{dashboard.version()}/..%2Fdashboard.py")).status_code == 404


async def test_without_its_packages_the_page_says_how_to_install_them(client, monkeypatch, tmp_path):
    monkeypatch.setitem(dashboard.ASSETS, "chart.js", tmp_path / "absent.js")
    page = await client.get("/")
    assert page.status_code == 503
    assert "make assets" in page.text and "Missing: chart.js." in page.text
    assert (await client.get(f"/dashboard/{dashboard.version()}/chart.js")).status_code == 404
