"""A minimal HTTP/1.1 keep-alive client on asyncio streams.

The load generator shares a 2-core machine with the server, so the client must
cost as little CPU as possible: httpx does far more per request than is needed
here. This client keeps one connection open, sends pre-encoded headers with a
Content-Length, and reads each response by its Content-Length (uvicorn sends one
with every JSON response; anything else is an error). It only talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio

HOST = "127.0.0.1"


class HTTPError(Exception):
    """A response this client does not understand."""


class Connection:
    """One keep-alive connection to the server; opened on first use, reopened after a failure."""

    def __init__(self, port: int, secret: str | None = None) -> None:
        self.port = port
        authorization = f"Authorization: Bearer {secret}\r\n" if secret else ""
        self._graphql_head = (
            f"POST /graphql HTTP/1.1\r\nHost: {HOST}:{port}\r\n{authorization}"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_graphql(self, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body to /graphql: (status, response body)."""
        return await self._exchange(self._graphql_head + b"%d\r\n\r\n" % len(body) + body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self._exchange(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n\r\n".encode())

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self.port, limit=1 << 20)
        try:
            self._writer.write(request)
            await self._writer.drain()
            return await self._read_response()
        except BaseException:
            self.close()  # the connection's state is unknown: the next request opens a new one
            raise

    async def _read_response(self) -> tuple[int, bytes]:
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HTTPError(f"bad status line {status_line[:80]!r}") from None
        length, close = None, False
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise HTTPError("chunked responses are not supported")
        if length is None:
            raise HTTPError("a response without Content-Length")
        body = await self._reader.readexactly(length)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
