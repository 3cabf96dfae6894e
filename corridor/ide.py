"""GraphiQL, served by the service itself: the page and its assets, with no request
outside the service.

The IDE's packages (React, GraphiQL, its explorer plugin) are installed from npm by the
project's own set-up (`make assets`: `npm ci` in frontend/, from its package-lock.json)
and served from there under a versioned path with long cache headers; the page's own
script (corridor/static/ide.js) asks for the API key once and keeps it in the browser's
session storage, sending it as `Authorization: Bearer <key>` with every request.
"""

from __future__ import annotations

import functools
import hashlib
import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from corridor.http import refusal

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "frontend" / "node_modules"
OWN = Path(__file__).resolve().parent / "static"
STATIC_ROUTE = "/static/{version}/{name}"
# name -> file: a closed list, so no other path of the disk is ever served.
ASSETS = {
    "react.js": PACKAGES / "react" / "umd" / "react.production.min.js",
    "react-dom.js": PACKAGES / "react-dom" / "umd" / "react-dom.production.min.js",
    "graphiql.js": PACKAGES / "graphiql" / "graphiql.min.js",
    "graphiql.css": PACKAGES / "graphiql" / "graphiql.min.css",
    "explorer.js": PACKAGES / "@graphiql" / "plugin-explorer" / "dist" / "index.umd.js",
    "explorer.css": PACKAGES / "@graphiql" / "plugin-explorer" / "dist" / "style.css",
    "ide.js": OWN / "ide.js",
    "ide.css": OWN / "ide.css",
}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
FOREVER = "public, max-age=31536000, immutable"


@functools.cache
def version() -> str:
    """Changes whenever an asset does (the installed packages' lock, our own files), so a
    browser may keep each one for a year."""
    digest = hashlib.sha256()
    for path in (ROOT / "frontend" / "package-lock.json", OWN / "ide.js", OWN / "ide.css"):
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def missing() -> list[str]:
    """The IDE's files that are not installed (frontend/ never set up)."""
    return [name for name, path in ASSETS.items() if not path.is_file()]


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    path = ASSETS.get(name)
    if path is None or request.path_params["version"] != version() or not path.is_file():
        return refusal(404, "No such asset.", "NOT_FOUND")
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": FOREVER})


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
