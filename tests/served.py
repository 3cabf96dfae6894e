"""The real server as a client meets it: `corridor serve` in a process of its own,
over TCP, on a database of its own (a SQLite file, or a PostgreSQL database beside the
suite's), with the demo network loaded. For faults that only the real event loop and
network timing show, and for several workers or servers on one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.server import Server, corridor


@dataclass
class Served:
    url: str
    database_url: str
    operator_key: str
    log_path: Path | None = None

    def key(self, role: str, bic: str | None = None) -> str:
        args = ["apikey", "--role", role, "--label", f"served {role}"]
        if bic:
            args += ["--institution", bic]
        return corridor(self.database_url, *args).strip().splitlines()[-1]


def served_database(engine: str, tmp_path: Path, postgres_url: str) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
    target = make_url(postgres_url)
    return target.set(database=f"{target.database}_served").render_as_string(hide_password=False)


@contextmanager
def serving(database_url: str, log_path: Path, workers: int = 1) -> Iterator[Served]:
    """Migrate and load the demo, then serve; the server stops when the block ends."""
    corridor(database_url, "migrate")
    corridor(database_url, "demo")
    with Server(database_url, workers, log_path) as server:
        served = Served(f"http://127.0.0.1:{server.port}", database_url, "")
        served.operator_key = served.key("OPERATOR")
        yield served


def errors_logged(log_path: Path) -> list[str]:
    """The ERROR lines and tracebacks the server wrote."""
    if not log_path.exists():
        return []
    text = log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if " ERROR " in line or line.startswith("Traceback")]


__all__ = ["Served", "errors_logged", "served_database", "serving"]
