"""Depth, alias, field and same-name limits (schema/limits.py): what they count, and that
a document whose fragments fan out is refused without expanding it."""

from __future__ import annotations

import asyncio
import signal
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from graphql import get_introspection_query, parse, specified_rules, validate
from strawberry.extensions import QueryDepthLimiter

from corridor.settings import Settings
from schema.limits import CODE, MERGES_PER_SELECTION, limit_rule, measure
from schema.root import build_schema

# Seconds a refused request may take before the test fails; speed is measured in bench/.
LIVENESS = 10


def fanout(levels: int, leaf: str = "viewer { role }", on: str = "Query", top: str = "{ ...F0 }") -> str:
    """The issue's document: each fragment spreads the next twice, so F0 expands to
    2^levels copies of `leaf`."""
    parts = [f"query {top}"]
    parts += [f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on {on} {{ {leaf} }}")
    return " ".join(parts)


def deep_fanout(levels: int) -> str:
    """Fanned-out fragments along a recursive path (Institution -> Account -> Institution)."""
    step = "accounts { edges { node { owner { ...F%d } } } }"
    parts = ['query Deep { institution(bic: "X") { ...F0 } }']
    parts += [f"fragment F{i} on Institution {{ name {step % (i + 1)} {step % (i + 1)} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on Institution {{ name }}")
    return " ".join(parts)


def repeated(count: int) -> str:
    """`count` fragments that select the same field: pairwise work for the overlap rule."""
    spreads = " ".join(f"...F{i}" for i in range(count))
    fragments = " ".join(f"fragment F{i} on Query {{ viewer {{ role }} }}" for i in range(count))
    return f"{{ {spreads} }} {fragments}"


def same(count: int, selection: str = "viewer { role }") -> str:
    """`count` copies of one selection in one selection set."""
    return "{ " + " ".join([selection] * count) + " }"


def chain(count: int) -> str:
    """Each fragment selects a field of its own and spreads the next: each adds one name to
    the counts of all the fragments before it."""
    fragments = " ".join(f"fragment F{i} on Query {{ x{i} ...F{i + 1} }}" for i in range(count))
    return f"{{ ...F0 }} {fragments} fragment F{count} on Query {{ x }}"


def wide(names: int, sets: int) -> str:
    """A fragment of `names` distinct fields, spread alone in `sets` fields' selection sets."""
    fields = " ".join(f"x{i}" for i in range(names))
    spreads = " ".join(f"a{i} {{ ...F }}" for i in range(sets))
    return f"{{ {spreads} }} fragment F on Query {{ {fields} }}"


def limited(max_same_name: int) -> list:
    """graphql-core's rules and the limit rule with the default limits but this one."""
    settings = Settings()
    return [
        *specified_rules,
        limit_rule(settings.max_depth, settings.max_aliases, settings.max_fields, max_same_name),
    ]


@contextmanager
def deadline(seconds: float):
    """Fail instead of hanging. A CPU-bound loop never yields to the event loop, so
    asyncio.wait_for alone could not stop it; SIGALRM interrupts it between bytecodes."""

    def expire(*_args):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def answer(api, query: str) -> dict:
    """The response body, within the liveness bound."""
    with deadline(LIVENESS + 5):
        return await asyncio.wait_for(api.raw(query), timeout=LIVENESS)


def strawberry_depth(query: str) -> int:
    """The depth strawberry's QueryDepthLimiter gave the (only) operation of `query`."""
    depths = {}
    rule = QueryDepthLimiter(max_depth=100, callback=depths.update).validation_rules[0]
    rule(SimpleNamespace(document=parse(query), report_error=lambda error: None))
    (depth,) = depths.values()
    return depth


@pytest.fixture(scope="module")
def graphql_schema():
    return build_schema()._schema


@pytest.fixture(scope="module")
def shallow():
    """A schema with small limits, for refusals that need no database."""
    return build_schema(Settings(max_depth=3, max_aliases=4, max_fields=20))


@pytest.mark.parametrize("levels", [20, 40, 200])
async def test_fanned_out_fragments_are_refused(api, levels):
    settings = api.app.state.settings
    body = await answer(api, fanout(levels))
    assert [error["message"] for error in body["errors"]] == [
        f"{2 ** (levels + 1)} fields found. Allowed: {settings.max_fields}",
        f"{2**levels} fields named 'viewer' in one selection set. Allowed: {settings.max_same_name}",
    ]
    assert all(error["extensions"]["code"] == CODE for error in body["errors"])
    assert "data" not in body or body["data"] is None


@pytest.mark.parametrize("levels", [20, 40, 200])
async def test_fanned_out_aliases_on_a_list_are_refused(api, levels):
    query = fanout(levels, leaf="code c: name", on="Currency", top="{ currencies { ...F0 } }")
    body = await answer(api, query)
    messages = [error["message"] for error in body["errors"]]
    assert f"{2**levels} aliases found. Allowed: {api.app.state.settings.max_aliases}" in messages
    assert all(error["extensions"]["code"] == CODE for error in body["errors"])


@pytest.mark.parametrize("levels", [20, 40])
async def test_fanned_out_depth_is_refused(api, levels):
    body = await answer(api, deep_fanout(levels))
    messages = [error["message"] for error in body["errors"]]
    assert messages[0] == f"'Deep' exceeds maximum operation depth of {api.app.state.settings.max_depth}"


@pytest.mark.parametrize(
    ("query", "count", "name"),
    [
        # Within the token and field limits, each cost graphql-core's overlap rule 0.2 to
        # 2.7 s, or about 0.2 s and "Validation aborted." with its lowered budget.
        (repeated(333), 333, "viewer"),  # 3,998 tokens, 666 fields
        (same(499), 499, "viewer"),
        (same(1000, "__typename"), 1000, "__typename"),
        # In a fragment no operation spreads: the overlap rule still compares them.
        ("{ __typename } fragment U on Query " + same(60), 60, "viewer"),
    ],
)
async def test_repeated_fields_in_one_selection_set_are_refused(api, query, count, name):
    limit = api.app.state.settings.max_same_name
    body = await answer(api, query)
    (error,) = body["errors"]
    assert error["message"] == f"{count} fields named '{name}' in one selection set. Allowed: {limit}"
    assert error["extensions"] == {"code": CODE}
    assert "data" not in body or body["data"] is None


async def test_as_many_fields_of_one_name_as_allowed_pass(api):
    limit = api.app.state.settings.max_same_name
    assert limit == 50
    assert await api(same(limit)) == {"viewer": {"role": "OPERATOR"}}
    spreads = " ".join(["...R"] * (limit // 2))
    query = f"{{ viewer {{ {spreads} }} }} fragment R on Viewer {{ role role }}"
    assert measure(parse(query)).same_name.count == limit
    assert await api(query) == {"viewer": {"role": "OPERATOR"}}
    body = await answer(api, same(limit + 1))
    assert body["errors"][0]["message"] == f"{limit + 1} fields named 'viewer' in one selection set. Allowed: {limit}"


@pytest.mark.parametrize(
    ("query", "count", "name"),
    [
        ("{ viewer { role } viewer { role } }", 2, "viewer"),
        ("{ a: viewer { role } a: currencies { code } viewer { role } }", 2, "a"),
        ("{ viewer { role role role } viewer { role } }", 3, "role"),  # each field's set alone
        ("{ ... { viewer { role } ... { viewer { role } } } viewer { role } }", 3, "viewer"),
        (
            "{ ...A ...A viewer { role } } fragment A on Query { viewer { role } ...B ...B } "
            "fragment B on Query { viewer { role } }",
            7,
            "viewer",
        ),  # 1 + 2 x (1 + 2)
        ("{ ...A } fragment A on Query { viewer { role } ...A ...A }", 1, "viewer"),  # a cycle adds 0
        ("{ viewer { role } ...Nope }", 1, "viewer"),  # unknown: 0
        ("{ viewer { ...R ...R ...R } } fragment R on Viewer { role ... { role role } }", 9, "role"),
    ],
)
def test_same_names_are_counted_as_the_overlap_rule_merges_them(graphql_schema, query, count, name):
    found = measure(parse(query)).same_name
    assert (found.count, found.name) == (count, name)
    # The limit is exclusive, and the error points at the selection set's owner.
    errors = validate(graphql_schema, parse(query), limited(count - 1))
    assert errors[-1].message == f"{count} fields named '{name}' in one selection set. Allowed: {count - 1}"
    assert errors[-1].extensions == {"code": CODE} and errors[-1].locations
    passing = validate(graphql_schema, parse(query), limited(count))
    assert not any("fields named" in error.message for error in passing)


def test_the_work_is_linear_in_the_levels():
    visits = {levels: measure(parse(fanout(levels))).visited for levels in (100, 200, 400)}
    assert 1.9 < visits[200] / visits[100] < 2.1
    assert 1.9 < visits[400] / visits[200] < 2.1
    assert measure(parse(fanout(400))).fields == 2**401
    found = measure(parse(fanout(400)))
    assert found.same_name.count == 2**400
    # Merging name counts: one step per name per spread, however many copies it adds.
    assert found.merged <= 2 * found.visited


@pytest.mark.parametrize("shape", [repeated, lambda n: same(n), lambda n: wide(n, n)])
def test_merging_names_is_linear_in_the_document(shape):
    found = {n: measure(parse(shape(n))) for n in (250, 500, 1000)}
    for n in (500, 1000):
        assert 1.9 < found[n].visited / found[n // 2].visited < 2.1
        assert found[n].merged <= 2 * found[n].visited
        assert found[n].merged <= found[n].allowance


async def test_fragments_copied_into_many_others_are_refused(api):
    # 400 fragments each add a name to all before them: 80,000 steps to merge the names
    # naively, and as many comparisons of fields with fragments for the overlap rule.
    found = measure(parse(chain(400)))
    assert found.merged > found.allowance == 1_000 + MERGES_PER_SELECTION * found.visited
    body = await answer(api, chain(400))
    (error,) = body["errors"]
    assert error["message"] == (
        f"Fragments spread too widely: over {found.allowance} field names merged into selection sets. "
        f"Allowed: {MERGES_PER_SELECTION} per selection of the document"
    )
    assert error["extensions"] == {"code": CODE}
    # A short chain is not refused (and the unknown field `x0` then is).
    body = await answer(api, chain(20))
    assert body["errors"][0]["message"] == "Cannot query field 'x0' on type 'Query'."


@pytest.mark.parametrize(
    "query",
    [
        "{ __typename }",
        "{ viewer { role } }",
        "{ viewer { institution { country { currency { code } } } } }",
        "{ viewer { ...V } } fragment V on Viewer { institution { country { code } } }",
        "{ viewer { ... on Viewer { institution { name } } } }",
        "{ ... on Query { viewer { ...V } } } fragment V on Viewer { ... { institution { ...I } } } "
        "fragment I on Institution { accounts { edges { node { name } } } }",
        "{ viewer { __typename } }",
        "{ __schema { types { fields { type { ofType { name } } } } } }",
        '{ viewer { role } __type(name: "Viewer") { fields { name type { name } } } }',
        get_introspection_query(descriptions=True, directive_is_repeatable=True),
    ],
)
def test_depth_is_counted_as_strawberry_counted_it(query):
    (operation,) = measure(parse(query)).operations
    assert operation.figures.depth == strawberry_depth(query)


async def test_depth_through_fragments_is_limited(shallow):
    query = "{ viewer { ...V } } fragment V on Viewer { institution { country { currency { code } } } }"
    result = await shallow.execute(query)
    assert [error.message for error in result.errors] == ["'anonymous' exceeds maximum operation depth of 3"]
    assert result.errors[0].extensions == {"code": CODE}


async def test_aliases_are_counted_across_spreads(api):
    spreads = " ".join(["...A"] * 20)
    query = f"{{ {spreads} }} fragment A on Query {{ a: viewer {{ role }} b: viewer {{ role }} }}"
    assert measure(parse(query)).aliases == 40
    body = await answer(api, query)
    assert body["errors"][0]["message"] == "40 aliases found. Allowed: 30"


async def test_fields_limit(api, shallow):
    limit = api.app.state.settings.max_fields
    # 2^9 fragments of 2 fields: 1,024, over the default of 1,000; half of it is refused
    # only for its 256 `viewer` in one selection set; 2^5 copies pass.
    assert measure(parse(fanout(9))).fields == 1024 > limit
    body = await answer(api, fanout(9))
    assert body["errors"][0]["message"] == f"1024 fields found. Allowed: {limit}"
    body = await answer(api, fanout(8))
    assert [error["message"] for error in body["errors"]] == [
        "256 fields named 'viewer' in one selection set. Allowed: 50"
    ]
    assert await api(fanout(5)) == {"viewer": {"role": "OPERATOR"}}
    result = await shallow.execute("{ " + " ".join(["__typename"] * 21) + " }")
    assert [error.message for error in result.errors] == ["21 fields found. Allowed: 20"]


async def test_every_limit_is_reported(shallow):
    query = "{ ...F0 } " + " ".join(
        [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(3)]
        + ["fragment F3 on Query { a: viewer { institution { country { currency { code } } } } }"]
    )
    result = await shallow.execute(query)
    assert [error.message for error in result.errors] == [
        "'anonymous' exceeds maximum operation depth of 3",
        "8 aliases found. Allowed: 4",
        "40 fields found. Allowed: 20",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "{ ...A } fragment A on Query { viewer { role } ...A }",
        "{ ...A } fragment A on Query { viewer { role } ...B } fragment B on Query { ...C ...C } "
        "fragment C on Query { ...A ...B }",
    ],
)
async def test_a_fragment_cycle_ends_with_graphql_cores_error(api, query):
    assert measure(parse(query)).fields >= 2
    body = await answer(api, query)
    assert any("within itself" in error["message"] for error in body["errors"])


async def test_an_unknown_fragment_counts_as_nothing(api):
    assert measure(parse("{ viewer { role } ...Nope }")).fields == 2
    body = await answer(api, "{ viewer { role } ...Nope }")
    assert body["errors"][0]["message"] == "Unknown fragment 'Nope'."


async def test_graphiql_introspection_query_passes(api):
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    )
    found = measure(parse(query))
    figures = found.operations[0].figures
    assert figures.depth == 0 and figures.aliases == 0
    assert figures.fields * 4 < api.app.state.settings.max_fields
    assert found.same_name.count == 1
    assert found.merged < 2 * found.visited
    data = await api(query)
    assert data["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(("variable", "attribute"), [("FIELDS", "max_fields"), ("SAME_NAME", "max_same_name")])
def test_limits_are_read_from_the_environment(monkeypatch, variable, attribute):
    monkeypatch.setenv(f"CORRIDOR_MAX_{variable}", "250")
    assert getattr(Settings.from_env(), attribute) == 250
    monkeypatch.setenv(f"CORRIDOR_MAX_{variable}", "0")
    with pytest.raises(ValueError, match=f"CORRIDOR_MAX_{variable}"):
        Settings.from_env()
