"""The SDL snapshot matches the code, and the served schema honours the API contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schema.root import build_schema

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "schema" / "schema.graphql"
CONTRACT_CHECK = ROOT.parent / "shared" / "tools" / "contract_check.py"
# Contract items not served yet, one contract_check line each. This list may only
# shrink: an item that becomes served must be taken off it (the test says so).
PENDING = ROOT / "tests" / "contract_pending.txt"


def test_snapshot_matches_the_code():
    exported = build_schema().as_str() + "\n"
    assert SNAPSHOT.read_text() == exported, "schema/schema.graphql is stale: run `make schema` and commit the result"


def test_served_schema_honours_the_contract():
    if not CONTRACT_CHECK.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{CONTRACT_CHECK} is missing")
        pytest.skip(f"{CONTRACT_CHECK} not found beside the repository")
    result = subprocess.run(
        [sys.executable, str(CONTRACT_CHECK), str(SNAPSHOT)], capture_output=True, text=True, check=False
    )
    differences = {line for line in result.stdout.splitlines() if line and not line.startswith("contract:")}
    pending = {line for line in PENDING.read_text().splitlines() if line.strip()}
    unexpected = sorted(differences - pending)
    assert not unexpected, "the schema breaks the contract:\n" + "\n".join(unexpected)
    served_now = sorted(pending - differences)
    assert not served_now, "served now, take these off tests/contract_pending.txt:\n" + "\n".join(served_now)
