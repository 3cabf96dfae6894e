"""The dashboard: a static single-page app at `/`, built only on the public GraphQL API.

Its page and scripts are the project's own files (corridor/static/dashboard/); Chart.js
and graphql-ws are installed from npm by the project's set-up (`make assets`: `npm ci`
in frontend/, from its package-lock.json) and served from there. Every asset is on a
closed list, under a versioned path with long cache headers, so nothing is fetched from
outside the service and no other file of the disk is ever served. The key is entered
once in the page and kept in the tab's session storage, as GraphiQL does.
"""

from __future__ import annotations

import html
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from corridor.assets import PACKAGES, STATIC, Shelf

OWN = STATIC / "dashboard"
PAGE = OWN / "index.html"
ASSET_ROUTE = "/dashboard/{version}/{name}"
OWN_FILES = (
    "dashboard.css",
    "app.js",
    "api.js",
    "live.js",
    "format.js",
    "time.js",
    "ui.js",
    "charts.js",
    "shares.js",
    "overview.js",
    "corridors.js",
    "reserves.js",
    "indices.js",
    "payments.js",
    "settlement.js",
    "cards.js",
)
# name -> file: a closed list, so no other path of the disk is ever served.
ASSETS = {
    "chart.js": PACKAGES / "chart.js" / "dist" / "chart.umd.js",
    "graphql-ws.js": PACKAGES / "graphql-ws" / "umd" / "graphql-ws.min.js",
    **{name: OWN / name for name in OWN_FILES},
}
SHELF = Shelf(ASSETS, sources=(PAGE, *(OWN / name for name in OWN_FILES)))
asset = SHELF.serve


def version() -> str:
    return SHELF.version


def missing() -> list[str]:
    """The dashboard's files that are not there (frontend/ never set up, most often)."""
    return SHELF.missing({"index.html": PAGE})


async def page(_: Request) -> HTMLResponse:
    absent = missing()
    if absent:
        return HTMLResponse(_MISSING.substitute(files=html.escape(", ".join(absent))), 503)
    static = html.escape(f"/dashboard/{version()}", quote=True)
    text = Template(PAGE.read_text(encoding="utf-8")).substitute(static=static)
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


def routes() -> list[Route]:
    """The routes to add to the application: the page at `/` and its assets."""
    return [Route("/", page, methods=["GET"]), Route(ASSET_ROUTE, asset, methods=["GET"])]


_MISSING = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corridor dashboard</title></head>
<body><h1>The dashboard is not installed</h1>
<p>Its packages (Chart.js, graphql-ws) are installed from npm by the project's set-up: run
<code>make assets</code> (or <code>npm ci --prefix frontend</code>), then reload. Missing: $files.</p>
<p>The API itself works without it: <code>POST /graphql</code>; GraphiQL is at <code>/graphql</code>.</p></body></html>
""")
