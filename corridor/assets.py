"""The browser assets the service serves itself (GraphiQL's, the dashboard's): each set
a closed list of files, under a versioned path with long cache headers, so nothing is
fetched from outside the service and no other file of the disk is ever served.

The packages come from npm, installed by the project's set-up (`make assets`: `npm ci`
in frontend/, from its package-lock.json); the pages' own files live in corridor/static.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from corridor.http import refusal

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "frontend" / "node_modules"
LOCK = ROOT / "frontend" / "package-lock.json"
STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
FOREVER = "public, max-age=31536000, immutable"


class Shelf:
    """One set of assets: `files` maps a name of the URL to its file (the closed list);
    `sources` are the files whose bytes make the version besides the lock (the set's own
    files and its page): the version changes whenever one of them does, so a browser may
    keep every asset for a year."""

    def __init__(self, files: dict[str, Path], sources: Iterable[Path]) -> None:
        self.files = files
        self.sources = (LOCK, *sources)

    @functools.cached_property
    def version(self) -> str:
        digest = hashlib.sha256()
        for path in self.sources:
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()[:12]

    def missing(self, also: dict[str, Path] | None = None) -> list[str]:
        """The names of the files that are not there (frontend/ never set up, most often)."""
        return [name for name, path in {**(also or {}), **self.files}.items() if not path.is_file()]

    async def serve(self, request: Request) -> Response:
        """GET .../{version}/{name}: the file, or 404 for a name off the list or a stale version."""
        path = self.files.get(request.path_params["name"])
        if path is None or request.path_params["version"] != self.version or not path.is_file():
            return refusal(404, "No such asset.", "NOT_FOUND")
        return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": FOREVER})
