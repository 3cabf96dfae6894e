"""GraphiQL, served by the service itself: the page and its assets, with no request
outside the service.

The IDE's packages (React, GraphiQL, its explorer plugin) are installed from npm by the
project's own set-up (`make assets`: `npm ci` in frontend/, from its package-lock.json)
and served from there under a versioned path with long cache headers; the page's own
script (corridor/static/ide.js) asks for the API key once and keeps it in the browser's
session storage, sending it as `Authorization: Bearer <key>` with every request.
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

from corridor.assets import PACKAGES, STATIC, Shelf

STATIC_ROUTE = "/static/{version}/{name}"
# name -> file: a closed list, so no other path of the disk is ever served.
ASSETS = {
    "react.js": PACKAGES / "react" / "umd" / "react.production.min.js",
    "react-dom.js": PACKAGES / "react-dom" / "umd" / "react-dom.production.min.js",
    "graphiql.js": PACKAGES / "graphiql" / "graphiql.min.js",
    "graphiql.css": PACKAGES / "graphiql" / "graphiql.min.css",
    "explorer.js": PACKAGES / "@graphiql" / "plugin-explorer" / "dist" / "index.umd.js",
    "explorer.css": PACKAGES / "@graphiql" / "plugin-explorer" / "dist" / "style.css",
    "ide.js": STATIC / "ide.js",
    "ide.css": STATIC / "ide.css",
}
SHELF = Shelf(ASSETS, sources=(STATIC / "ide.js", STATIC / "ide.css"))
asset = SHELF.serve


def version() -> str:
    return SHELF.version


def missing() -> list[str]:
    """The IDE's files that are not installed (frontend/ never set up)."""
    return SHELF.missing()


def page() -> HTMLResponse:
    absent = missing()
    if absent:
        return HTMLResponse(_MISSING.format(files=html.escape(", ".join(absent))), 503)
    static = f"/static/{version()}"
    return HTMLResponse(_PAGE.format(static=static), headers={"Cache-Control": "no-cache"})


_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Corridor GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="{static}/graphiql.css">
  <link rel="stylesheet" href="{static}/explorer.css">
  <link rel="stylesheet" href="{static}/ide.css">
</head>
<body>
  <form id="key-bar" autocomplete="off">
    <strong>Corridor</strong>
    <label>API key <input id="key" type="password" placeholder="cor_..." size="48"></label>
    <button id="use-key" type="submit">Use key</button>
    <button id="forget-key" type="button">Forget</button>
    <span id="key-state" role="status"></span>
  </form>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="{static}/react.js"></script>
  <script src="{static}/react-dom.js"></script>
  <script src="{static}/graphiql.js"></script>
  <script src="{static}/explorer.js"></script>
  <script src="{static}/ide.js"></script>
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corridor GraphiQL</title></head>
<body><h1>GraphiQL is not installed</h1>
<p>Its packages are installed from npm by the project's set-up: run <code>make assets</code>
(or <code>npm ci --prefix frontend</code>), then reload. Missing: {files}.</p>
<p>The API itself works without it: <code>POST /graphql</code>.</p></body></html>
"""
