"""The SDL snapshot matches the code, and the served schema honours the API contract.

The contract lives in the repository (docs/contract.graphql), so the check runs on any
clone; where the shared copy it comes from sits beside the repository
(../shared/api/contract.graphql), the two must be equal."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as build_sdl
from graphql import find_breaking_changes

from schema.root import build_schema

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "schema" / "schema.graphql"
CONTRACT = ROOT / "docs" / "contract.graphql"
SHARED_CONTRACT = ROOT.parent / "shared" / "api" / "contract.graphql"
# Contract items not served yet, one line each as ../shared/tools/contract_check.py
# prints them. This list may only shrink: an item that becomes served must be taken
# off it (the test says so).
PENDING = ROOT / "tests" / "contract_pending.txt"


def contract_differences() -> set[str]:
    """What the served schema lacks or changes of the contract (graphql-core's breaking
    changes from the contract to the served SDL, as the shared contract_check prints them)."""
    changes = find_breaking_changes(build_sdl(CONTRACT.read_text()), build_sdl(SNAPSHOT.read_text()))
    return {f"{change.type.name}: {change.description}" for change in changes}


def test_snapshot_matches_the_code():
    exported = build_schema().as_str() + "\n"
    assert SNAPSHOT.read_text() == exported, "schema/schema.graphql is stale: run `make schema` and commit the result"


def test_the_repository_holds_the_shared_contract():
    if SHARED_CONTRACT.exists():
        assert CONTRACT.read_text() == SHARED_CONTRACT.read_text(), "copy ../shared/api/contract.graphql to docs/"


def test_served_schema_honours_the_contract():
    differences = contract_differences()
    pending = {line for line in PENDING.read_text().splitlines() if line.strip()}
    unexpected = sorted(differences - pending)
    assert not unexpected, "the schema breaks the contract:\n" + "\n".join(unexpected)
    served_now = sorted(pending - differences)
    assert not served_now, "served now, take these off tests/contract_pending.txt:\n" + "\n".join(served_now)
