"""Every GraphQL example of the README runs as written against the database `make serve`
leaves (migrated, the demo loaded, an OPERATOR key): no GraphQL error and no user error.
An example with a `<placeholder>` (an id the reader fills in) or with variables is
skipped; the README says where each such id comes from. A subscription (served over
WebSocket, tests.test_subscriptions) is validated against the schema instead."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import OperationDefinitionNode, OperationType, parse, print_ast, validate

from corridor import demo
from schema.root import build_schema

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```graphql\n(.*?)```", re.S)


def examples(subscriptions: bool = False) -> list[str]:
    """Each operation of each graphql block, in the README's order (the subscriptions, or the rest)."""
    operations = []
    for block in BLOCK.findall(README.read_text()):
        for definition in parse(block).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            if (definition.operation is OperationType.SUBSCRIPTION) != subscriptions:
                continue
            if not definition.variable_definitions:  # those take the variables shown beside them
                operations.append(print_ast(definition))
    return operations


def test_every_readme_subscription_is_valid():
    schema = build_schema()._schema
    found = examples(subscriptions=True)
    assert len(found) >= 4
    for example in found:
        assert validate(schema, parse(example)) == [], example


def _user_errors(data: object) -> list:
    """Every non-empty `errors` list anywhere in an answer (mutation payloads)."""
    if isinstance(data, dict):
        found = [data["errors"]] if data.get("errors") else []
        return found + [error for value in data.values() for error in _user_errors(value)]
    if isinstance(data, list):
        return [error for value in data for error in _user_errors(value)]
    return []


async def test_every_readme_example_runs_against_the_demo(api):
    await demo.load(api.sessions)
    ran = 0
    for example in examples():
        if re.search(r"<[^>]+>|\.\.\.\"", example):
            continue
        body = await api.raw(example)
        assert "errors" not in body, (example, body)
        assert _user_errors(body["data"]) == [], (example, body["data"])
        assert None not in body["data"].values(), ("an example that finds nothing", example, body["data"])
        ran += 1
    assert ran >= 15, ran
