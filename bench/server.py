"""The server under test, and the `corridor` command line, as subprocesses.

`Server` runs `corridor serve --host 127.0.0.1 --port <free port> --workers N` with
DATABASE_URL in its environment, waits until GET /healthz answers 200, and on exit
sends SIGTERM and waits (SIGKILL to its process group only if it does not stop in
time). It is a context manager, so no server outlives the block that started it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.client import HOST, Connection, HTTPError

ROOT = Path(__file__).resolve().parent.parent
CORRIDOR = Path(sys.prefix) / "bin" / "corridor"  # the virtualenv's entry point
START_SECONDS = 60.0  # how long a server may take to answer /healthz
STOP_SECONDS = 30.0  # how long it may take to stop after SIGTERM


def environment(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url}


def corridor(database_url: str, *args: str) -> str:
    """Run a `corridor` command against the database; its standard output."""
    finished = subprocess.run(
        [str(CORRIDOR), *args],
        env=environment(database_url),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"corridor {' '.join(args)} failed ({finished.returncode}):\n{finished.stderr[-2000:]}")
    return finished.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


async def _health(port: int) -> int:
    connection = Connection(port)
    try:
        status, _ = await asyncio.wait_for(connection.get("/healthz"), 5)
        return status
    finally:
        connection.close()


class Server:
    def __init__(self, database_url: str, workers: int, log_path: Path) -> None:
        self.database_url = database_url
        self.workers = workers
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> None:
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(CORRIDOR), "serve", "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)],
                env=environment(self.database_url),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the workers can be found again
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if asyncio.run(_health(self.port)) == 200:
                    return
            except (OSError, asyncio.IncompleteReadError, HTTPError, TimeoutError):
                pass  # not listening yet
            time.sleep(0.2)
        raise RuntimeError(f"no 200 from /healthz within {START_SECONDS:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            # Not reaped yet, so the group id is still ours: the server and its workers.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)

    def log_size(self) -> int:
        """How many bytes the server's log holds so far (a mark for `log_since`)."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, mark: int) -> str:
        """What the server logged after `mark` (a `log_size`)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(mark)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
