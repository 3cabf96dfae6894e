# ruff: noqa: RUF001  (confusable digits and letters are the point of some values here)
"""Fuzzing the served endpoint with hypothesis-graphql, on SQLite and on PostgreSQL.

Each example draws a request and sends it to /graphql over a seeded network
(tests/fuzz_world.py): a document goes out four times, with the keys of an ANALYST, of
a PARTICIPANT of Bank of China and of Sberbank, and of an OPERATOR (now and then once,
with no key or a bad one); a malformed envelope goes out once. The requests:

- queries and mutations generated from the served schema over every Query and Mutation
  field (hypothesis-graphql, valid ones and ones with one schema violation), their
  arguments inline or, often, lifted into variables (the only way a NUL byte or a lone
  surrogate reaches a resolver: a GraphQL string literal cannot hold a lone surrogate).
  Scalars come from strategies that mix the world's real values with odd ones: global ids
  of real rows, base64 of "Type:key" with keys too large for 64 bits, non-ASCII digits or
  signs, and junk; Decimal amounts sane and odd (" 10 ", "1E-30", "NaN", ...); UUIDs;
  DateTimes up to the edges of the calendar ("9999-12-31T23:59:59-14:00"); strings with
  NUL bytes, lone surrogates and the world's codes, BICs and PANs;
- hostile documents: fragment fan-outs and cycles, deep nesting, alias and directive
  piles, huge literals, several operations;
- malformed envelopes: JSON bodies that are not an object (null, "x", 1, []), fields of
  the wrong type, invalid JSON or UTF-8, deep JSON nesting, odd content types, GETs.

Every response must show no server fault: no HTTP status >= 500, no exception out of
the application, no error "Unexpected error." or code INTERNAL_ERROR, and nothing of
the server's insides (a traceback, SQL, a driver's name, an address, an exception's
class) that the request did not itself contain; and no request may stall (a liveness
timeout of STALL_SECONDS, enforced even when the event loop itself is blocked). A 4xx
with an errors list, or a 200 with errors, is an answer, not a fault.

The world is built once per engine and then mutated by the generated mutations, so an
example can fail because of an earlier one (a poisoned FX rate, say): each failure
message lists the last mutations that went through.

CORRIDOR_FUZZ_EXAMPLES sets the examples per engine (default 300, about half a minute per
engine); `make fuzz` runs 2,500 per engine (some 20,000 requests in all) with
CORRIDOR_FUZZ_SURVEY=1, which records every fault and goes on instead of stopping (and
shrinking) at the first. The number of requests sent and every kind of fault seen (with
its shortest request, and where the server raised it) are printed in pytest's terminal
summary. A stall after which the service no longer answers a plain query stops the test.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import signal
import time
import traceback
from typing import Any

import graphql
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from corridor.settings import Settings
from schema.root import build_schema
from tests import fuzz_world

EXAMPLES = int(os.environ.get("CORRIDOR_FUZZ_EXAMPLES", "300"))
# A request taking longer than this has stalled (the whole suite's requests take milliseconds).
STALL_SECONDS = float(os.environ.get("CORRIDOR_FUZZ_STALL_SECONDS", "20"))
# When the event loop itself is blocked (a CPU-bound stall), asyncio's timeout cannot
# fire: SIGALRM interrupts the main thread this much later.
ALARM_GRACE = 1.0
# Survey: record every fault and go on (test_fuzz_survey_found_no_faults then fails with
# the list), instead of failing the example and letting hypothesis shrink it.
SURVEY = os.environ.get("CORRIDOR_FUZZ_SURVEY", "").lower() in ("1", "true", "yes")
# A file to write every request and response to, for a look at what the fuzzer sends.
LOG = os.environ.get("CORRIDOR_FUZZ_LOG")
MASKED = "Unexpected error."


# ---------------------------------------------------------------- the served schema


_SCHEMA: list[graphql.GraphQLSchema] = []


def served_schema() -> graphql.GraphQLSchema:
    if not _SCHEMA:
        _SCHEMA.append(build_schema(Settings())._schema)
    return _SCHEMA[0]


# ---------------------------------------------------------------- scalar values

NODE_TYPES = [
    "Account",
    "Institution",
    "Transfer",
    "Card",
    "Merchant",
    "CardScheme",
    "SchemeLink",
    "Authorization",
    "Quote",
    "Basket",
    "ApiKey",
    "cursor",
    "Nope",
    "",
    "account",
]
ODD_KEYS = [
    "0",
    "1",
    "-1",
    "+1",
    " 1",
    "1 ",
    "01",
    "1.0",
    "1e3",
    "1_0",
    "0x10",
    "²",
    "³",
    "٣",
    "١٢",
    "१",
    "𝟙",
    "Ⅻ",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "9" * 19,
    "9" * 20,
    "9" * 400,
    "1" * 5000,
    "",
    "\x00",
    "1\x00",
    "\ud800",
    "x",
    "1:2",
    "NaN",
]
HOSTILE_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "a\udc00b",
    "\ufeff",
    "\u202e",
    "\u0301",
    "\U0001f4b8",
    "ＲＵＢ",
    "𝟘",
    "²",
    "٣",
    "'",
    '"',
    "\\",
    "'; DROP TABLE account; --",
    "%s%s%n",
    "{0}",
    "${x}",
    "../../etc/passwd",
    "NaN",
    "-0",
    "1e309",
    "9" * 40,
    "x" * 300,
    "x" * 70_000,
    "\n\r\t",
    "null",
]
# Characters that break things: NUL and other controls, lone surrogates, odd digits and
# marks, non-BMP; mixed with ordinary letters and digits.
ODD_CHARACTERS = st.one_of(
    st.sampled_from("\x00\x01\x1f\x7f\ud800\udbff\udc00\udfff\ufeff\u202e\u0301²٣１ＡÆß\U0001f4b8"),
    st.characters(codec="utf-8"),
    st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:-_ ."),
)
SANE_AMOUNTS = ["0.01", "1", "1.00", "5.00", "10.00", "10", "100.00", "1000.00", "99999.99", "0.0781", "7.40"]
ODD_AMOUNTS = [
    " 10 ",
    "10 ",
    " 10",
    "\t10",
    "10\n",
    "1E-30",
    "1e-30",
    "1E30",
    "1E+999999",
    "1e-999999",
    "1E-1000000000",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "-0",
    "0",
    "0.00",
    "-10.00",
    "-0.01",
    "0.001",
    "1.005",
    "0.000000000001",
    "1_000",
    "1,000.00",
    "١٠",
    "１０",
    "²",
    "10\x00",
    "\x00",
    "",
    "1.2.3",
    "0x10",
    "+10",
    ".5",
    "5.",
    "9" * 30,
    "9" * 60 + ".99",
    "1" * 5000,
    "0." + "0" * 60 + "1",
    "0." + "0" * 29 + "1",  # a rate of 1E-30, spelled out
    "1" + "0" * 30,
    "12345678901234567890.12",
    "10\ud800",
]
EXTREME_DATETIMES = [
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-14:00",
    "0001-01-01",
    "9999-12-31",
    "1970-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-06-30T23:59:60Z",
    "2026-01-01T00:00:00+25:00",
    "2026-01-01T00:00:00+23:59",
    "2026-01-01T00:00:00",
    "2026-01-01 00:00:00Z",
    "2026-W01-1",
    "+10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2026-01-01T00:00:00.1234567890Z",
    "20260101T000000Z",
    "١٩٧٠-٠١-٠١T00:00:00Z",
    "2026-01-01T00:00:00Z\x00",
    "now",
    "",
    "1e10",
    "9" * 30,
]


def b64(text: str, *, pad: bool = False, urlsafe: bool = True) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.standard_b64encode)(raw).decode()
    return encoded if pad else encoded.rstrip("=")


def string_node(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def int_node(value: int) -> graphql.IntValueNode:
    return graphql.IntValueNode(value=str(value))


def float_node(text: str) -> graphql.FloatValueNode:
    return graphql.FloatValueNode(value=text)


def odd_text(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(ODD_CHARACTERS, max_size=max_size)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """Strategies picked with the given weights (st.one_of merges equal branches, and
    hypothesis's small integers favour their ends, so neither can weight a choice)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


def chance(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in `one_in` draws."""
    return st.sampled_from([i == one_in // 2 for i in range(one_in)])


CURRENCIES = ["RUB", "CNY", "USD", "XAU", "EUR", "INR"]


def mix(sane: st.SearchStrategy, odd: st.SearchStrategy, wild: bool) -> st.SearchStrategy:
    """Mostly sane values, so that most requests get past coercion to the resolvers with
    at most an odd value or two; or, in a wild request, odd ones half the time."""
    return weighted((1, sane), (1, odd)) if wild else weighted((4, sane), (1, odd))


def text_values(world: fuzz_world.FuzzWorld, wild: bool) -> st.SearchStrategy[str]:
    # Any String may be a currency, a country, a BIC, a scheme code or a PAN: currencies
    # most often, since most operations name one.
    known = weighted((2, st.sampled_from(CURRENCIES)), (3, st.sampled_from(world.strings)))
    sane = weighted((6, known), (1, st.sampled_from(world.cursors)), (1, st.text("abcXYZ 019", max_size=10)))
    suffixed = st.builds(lambda s, odd: s + odd, known, st.sampled_from(["\x00", "\ud800", "\udfff", " ", "\u0301"]))
    odd = weighted(
        (3, suffixed),  # a real value, one odd character away
        (2, st.sampled_from(HOSTILE_STRINGS)),
        (1, known.map(str.lower)),
        (1, odd_text()),
        (1, st.text(max_size=10)),
    )
    return mix(sane, odd, wild)


def _key_of(gid: str) -> str:
    return base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode().partition(":")[2]


def _type_of(gid: str) -> str:
    return base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode().partition(":")[0]


# Keys that are digits to str.isdigit() but not to int(), or too large for 64 bits.
INTERESTING_KEYS = [
    "²",
    "٣",
    "𝟙",
    "१",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "9" * 19,
    "-1",
    "0",
    " 1",
    "1\x00",
    "\ud800",
    "1" * 5000,
]


def global_ids(world: fuzz_world.FuzzWorld, wild: bool) -> st.SearchStrategy[graphql.ValueNode]:
    accounts = [gid for gid in world.global_ids if _type_of(gid) == "Account"]
    real = weighted((1, st.sampled_from(world.global_ids)), (1, st.sampled_from(accounts)))
    real_types = sorted({_type_of(gid) for gid in world.global_ids} | {"Account", "Institution", "Basket", "Quote"})
    forged = st.builds(
        lambda type_name, key, pad, urlsafe: b64(f"{type_name}:{key}", pad=pad, urlsafe=urlsafe),
        weighted((4, st.sampled_from(real_types)), (1, st.sampled_from(NODE_TYPES))),
        weighted(
            (6, st.sampled_from(INTERESTING_KEYS)),
            (1, st.sampled_from(ODD_KEYS)),
            (1, st.integers(-(2**70), 2**70).map(str)),
            (1, odd_text(4)),
        ),
        chance(4),
        chance(4).map(lambda standard: not standard),
    )
    retyped = st.builds(  # a real key under another type's name
        lambda gid, type_name: b64(f"{type_name}:{_key_of(gid)}"), real, st.sampled_from(NODE_TYPES)
    )
    odd = weighted(
        (12, forged),
        (1, retyped),
        (1, real.map(lambda gid: gid + "=")),
        (1, real.map(lambda gid: gid + "\x00")),
        (1, real.map(lambda gid: gid[:-1])),
        (1, real.map(lambda gid: gid * 3)),
        (1, st.sampled_from(world.cursors)),
        (1, st.builds(lambda raw: base64.urlsafe_b64encode(raw).decode(), st.binary(max_size=12))),  # not UTF-8
        (1, st.sampled_from(["Account:1", "QWNjb3VudDox", "%%%", "====", "=", ""])),
        (1, odd_text()),
        (1, st.sampled_from(HOSTILE_STRINGS)),
    ).map(string_node)
    numbers = st.one_of(st.integers(-1, 5), st.sampled_from([2**31 - 1, -(2**31)])).map(int_node)
    return mix(real.map(string_node), weighted((8, odd), (1, numbers)), wild)


# Amounts any parser takes, at the edges of what arithmetic on them can bear.
EXTREME_AMOUNTS = [
    "0." + "0" * 29 + "1",
    "0.00000001",
    "0.000000000001",
    "1" + "0" * 30,
    "99999999999999999999",
    "9223372036854775807",
    "92233720368547758.08",
    "0.001",
    "0",
    "0.00",
    "-1",
    "-0.01",
]


def decimals(wild: bool) -> st.SearchStrategy[graphql.ValueNode]:
    sane = weighted(
        (3, st.sampled_from(SANE_AMOUNTS)),
        (2, st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False).map(str)),
        (1, st.sampled_from(EXTREME_AMOUNTS)),
    ).map(string_node)
    odd_strings = weighted(
        (4, st.sampled_from(ODD_AMOUNTS)),
        (1, st.decimals(min_value=-100, max_value=10**20, allow_nan=False).map(str)),
        (1, st.decimals(allow_nan=True, allow_infinity=True).map(str)),
        (1, odd_text(8)),
    ).map(string_node)
    ints = st.one_of(st.integers(-10, 10_000), st.sampled_from([2**63, 10**30])).map(int_node)
    floats = st.sampled_from(["10.5", "0.01", "1e-30", "1E30", "1e400", "-0.0"]).map(float_node)
    return mix(sane, weighted((6, odd_strings), (1, ints), (1, floats)), wild)


def uuids(world: fuzz_world.FuzzWorld, wild: bool) -> st.SearchStrategy[graphql.ValueNode]:
    real = st.sampled_from(world.uuids)
    sane = weighted((4, real), (1, st.uuids().map(str))).map(string_node)
    odd = st.one_of(
        real.map(str.upper),
        real.map(lambda u: "{" + u + "}"),
        real.map(lambda u: "urn:uuid:" + u),
        real.map(lambda u: u.replace("-", "")),
        real.map(lambda u: u + "\x00"),
        real.map(lambda u: " " + u),
        st.sampled_from(["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", ""]),
        odd_text(),
        st.sampled_from(HOSTILE_STRINGS),
    ).map(string_node)
    return mix(sane, weighted((6, odd), (1, st.integers(-1, 2**128).map(int_node))), wild)


def datetimes(wild: bool) -> st.SearchStrategy[graphql.ValueNode]:
    offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
    aware = st.builds(
        lambda moment, tz: moment.replace(tzinfo=tz).isoformat(),
        st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
        offsets,
    )
    recent = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
        lambda moment: moment.isoformat() + "Z"
    )
    odd = weighted((2, aware), (6, st.sampled_from(EXTREME_DATETIMES)), (1, odd_text()))
    numbers = st.sampled_from([0, -1, 2**40]).map(int_node)
    return mix(recent.map(string_node), weighted((8, odd.map(string_node)), (1, numbers)), wild)


def dates(wild: bool) -> st.SearchStrategy[graphql.ValueNode]:
    sane = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 1, 1)).map(str)
    odd = st.one_of(
        st.dates().map(str),
        st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "20260101", "", "²"]),
        odd_text(),
    )
    return mix(sane, odd, wild).map(string_node)


def ints(wild: bool) -> st.SearchStrategy[graphql.ValueNode]:
    sane = st.one_of(st.integers(0, 20), st.sampled_from([12, 2029, 2030, 100, 25, 50, 86_400]))
    odd = st.one_of(
        st.sampled_from([0, -1, 2**31 - 1, -(2**31), 1_000_000, 10_001]),
        st.integers(-(2**31), 2**31 - 1),
    )
    return mix(sane, odd, wild).map(int_node)


def custom_scalars(world: fuzz_world.FuzzWorld, schema: graphql.GraphQLSchema, wild: bool) -> dict:
    known = {
        "ID": global_ids(world, wild),
        "String": text_values(world, wild).map(string_node),
        "Int": ints(wild),
        "Decimal": decimals(wild),
        "UUID": uuids(world, wild),
        "DateTime": datetimes(wild),
        "Date": dates(wild),
    }
    scalars = {name for name, type_ in schema.type_map.items() if isinstance(type_, graphql.GraphQLScalarType)} - {
        "Float",
        "Boolean",
    }
    missing = scalars - known.keys()
    assert not missing, f"the fuzz test has no strategy for the scalars {sorted(missing)}: add one"
    return {name: strategy for name, strategy in known.items() if name in scalars}


# ---------------------------------------------------------------- documents


ERRORS_SELECTION = graphql.parse("{ errors { code message field } }").definitions[0].selection_set.selections[0]


def select_errors(document: graphql.DocumentNode, schema: graphql.GraphQLSchema) -> graphql.DocumentNode:
    """Add `errors { code message field }` to every selection of a payload that has
    errors and does not select them (hypothesis-graphql selects a random subset): refusals
    show, and the check on malformed Decimals can tell a refusal from an acceptance."""
    type_info = graphql.TypeInfo(schema)

    class Select(graphql.Visitor):
        def enter_selection_set(self, node, *_args):
            parent = type_info.get_parent_type()
            if not isinstance(parent, graphql.GraphQLObjectType) or "errors" not in parent.fields:
                return None
            if graphql.get_named_type(parent.fields["errors"].type).name != "UserError":
                return None
            if any(isinstance(s, graphql.FieldNode) and s.name.value == "errors" for s in node.selections):
                return None
            return graphql.SelectionSetNode(selections=(*node.selections, ERRORS_SELECTION))

    return graphql.visit(document, graphql.TypeInfoVisitor(type_info, Select()))


def lift_variables(
    document: graphql.DocumentNode, schema: graphql.GraphQLSchema, lift: list[bool]
) -> tuple[graphql.DocumentNode, dict[str, Any]]:
    """Move argument and input-field values into variables, one decision from `lift` per
    value met (cycled); returns the new document and the variables' JSON values."""
    type_info = graphql.TypeInfo(schema)
    definitions: list[graphql.VariableDefinitionNode] = []
    values: dict[str, Any] = {}
    decisions = iter(lift * 1000)

    class Lift(graphql.Visitor):
        def _lift(self, node):
            input_type = type_info.get_input_type()
            if input_type is None or isinstance(node.value, graphql.VariableNode) or not next(decisions, False):
                return None
            value = graphql.value_from_ast_untyped(node.value)
            try:
                json.dumps(value, allow_nan=False)
            except ValueError:  # 1e400 is a float literal but no JSON number; keep it inline
                return None
            name = f"v{len(definitions)}"
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=graphql.VariableNode(name=graphql.NameNode(value=name)),
                    type=graphql.parse_type(str(input_type)),
                )
            )
            values[name] = value
            replaced = type(node)(name=node.name, value=graphql.VariableNode(name=graphql.NameNode(value=name)))
            return replaced

        def enter_argument(self, node, *_args):
            return self._lift(node)

        def enter_object_field(self, node, *_args):
            return self._lift(node)

    lifted = graphql.visit(document, graphql.TypeInfoVisitor(type_info, Lift()))
    if definitions:
        operation = lifted.definitions[0]
        operation = graphql.OperationDefinitionNode(
            operation=operation.operation,
            name=operation.name,
            variable_definitions=tuple(definitions),
            directives=operation.directives,
            selection_set=operation.selection_set,
        )
        lifted = graphql.DocumentNode(definitions=(operation, *lifted.definitions[1:]))
    return lifted, values


def _same(document):
    return document


_GENERATORS: dict[tuple, st.SearchStrategy] = {}


def generator(world: fuzz_world.FuzzWorld, root: str, field: str | None, mode: hypothesis_graphql.Mode, wild: bool):
    """hypothesis-graphql's strategy for the served schema (one root field, or any of
    them), built once per world and kind."""
    key = (id(world), root, field, mode, wild)
    found = _GENERATORS.get(key)
    if found is None:
        if not any(k[0] == id(world) for k in _GENERATORS):
            _GENERATORS.clear()
        schema = served_schema()
        build = hypothesis_graphql.queries if root == "query" else hypothesis_graphql.mutations
        scalars = custom_scalars(world, schema, wild)
        fields = None if field is None else [field]
        found = _GENERATORS[key] = build(
            schema, fields=fields, custom_scalars=scalars, print_ast=_same, mode=mode, allow_null=wild
        )
    return found


@st.composite
def operations(draw, world: fuzz_world.FuzzWorld):
    """(document text, variables, malformed Decimals by root field) of a generated query
    or mutation: most select one root field, drawn evenly from all of them (left to
    itself hypothesis-graphql favours some), the others any of them."""
    schema = served_schema()
    root = draw(st.sampled_from(["query", "mutation"]))
    root_type = schema.query_type if root == "query" else schema.mutation_type
    field = draw(weighted((4, st.sampled_from(sorted(root_type.fields))), (1, st.none())), label="root field")
    mode = hypothesis_graphql.Mode.NEGATIVE if draw(chance(10)) else hypothesis_graphql.Mode.POSITIVE
    wild = draw(chance(4))
    label = f"{root} {field or '(any fields)'} ({mode.name.lower()}, {'wild' if wild else 'tame'})"
    try:
        document = draw(generator(world, root, field, mode, wild), label=label)
    except InvalidArgument:  # no schema violation to make on this field (no arguments)
        document = draw(generator(world, root, field, hypothesis_graphql.Mode.POSITIVE, wild), label=label)
    if root == "mutation" and not draw(chance(4)):
        document = select_errors(document, schema)
    how = draw(st.sampled_from(["inline", "all", "some"]), label="variables")
    variables: dict[str, Any] = {}
    if how != "inline":
        lift = [True] if how == "all" else draw(st.lists(st.booleans(), min_size=1, max_size=8))
        document, variables = lift_variables(document, schema, lift)
    return graphql.print_ast(document), variables, malformed_decimals(document, schema, variables)


def not_an_amount(value: Any) -> bool:
    """A Decimal text that is plainly no amount (whitespace, NaN, odd digits, separators):
    the service must refuse it, whatever it thinks of exponents or signs."""
    if not isinstance(value, str):
        return False
    bare = value.strip().lstrip("+-").lower()
    return (
        value != value.strip()
        or not value.isascii()
        or not value.isprintable()
        or bare in {"", "nan", "snan", "inf", "infinity"}
        or any(c in value for c in "_, ")
    )


def decimal_values(value: Any, type_: graphql.GraphQLInputType):
    """The Decimal values inside the JSON `value` of a variable of type `type_`."""
    if graphql.is_non_null_type(type_):
        type_ = type_.of_type
    if value is None:
        return
    if graphql.is_list_type(type_):
        for item in value if isinstance(value, list) else [value]:
            yield from decimal_values(item, type_.of_type)
    elif graphql.is_input_object_type(type_):
        if isinstance(value, dict):
            for name, field in type_.fields.items():
                if name in value:
                    yield from decimal_values(value[name], field.type)
    elif isinstance(type_, graphql.GraphQLScalarType) and type_.name == "Decimal":
        yield value


def malformed_decimals(
    document: graphql.DocumentNode, schema: graphql.GraphQLSchema, variables: dict[str, Any]
) -> dict[str, list[str]]:
    """Root field (response key) -> the Decimals it was given that are plainly no amount."""
    type_info = graphql.TypeInfo(schema)
    found: dict[str, list[str]] = {}
    depth = [0]
    root: list[str | None] = [None]

    def add(value: Any) -> None:
        if depth[0] >= 1 and root[0] is not None and not_an_amount(value):
            found.setdefault(root[0], []).append(value)

    class Find(graphql.Visitor):
        def enter_field(self, node, *_args):
            depth[0] += 1
            if depth[0] == 1:
                root[0] = (node.alias or node.name).value

        def leave_field(self, node, *_args):
            depth[0] -= 1

        def enter_string_value(self, node, *_args):
            input_type = type_info.get_input_type()
            if input_type is not None and graphql.get_named_type(input_type).name == "Decimal":
                add(node.value)

        def enter_variable(self, node, *_args):
            input_type = type_info.get_input_type()
            if input_type is not None and depth[0] >= 1:
                for value in decimal_values(variables.get(node.name.value), input_type):
                    add(value)

    graphql.visit(document, graphql.TypeInfoVisitor(type_info, Find()))
    return found


def fragment_fan_out(depth: int, width: int) -> str:
    """Each fragment spreads the next `width` times: width ** depth paths to walk naively."""
    fragments = [f"fragment F{i} on Query {{ {' '.join(f'...F{i + 1}' for _ in range(width))} }}" for i in range(depth)]
    fragments.append(f"fragment F{depth} on Query {{ viewer {{ role }} currencies {{ code }} }}")
    return "query { ...F0 }\n" + "\n".join(fragments)


def fragment_fields_fan_out(depth: int, width: int) -> str:
    """Fan-out through fields with distinct aliases (the overlap check compares all pairs)."""
    fragments = [
        f"fragment F{i} on Query {{ {' '.join(f'a{j}: viewer {{ role }} ...F{i + 1}' for j in range(width))} }}"
        for i in range(depth)
    ]
    fragments.append(f"fragment F{depth} on Query {{ viewer {{ role }} }}")
    return "{ ...F0 }\n" + "\n".join(fragments)


def fragment_cycle(length: int) -> str:
    fragments = [
        f"fragment C{i} on Account {{ id owner {{ accounts {{ edges {{ node {{ ...C{(i + 1) % length} }} }} }} }} }}"
        for i in range(length)
    ]
    return '{ node(id: "x") { ...C0 } }\n' + "\n".join(fragments)


def deep_nesting(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"owner {{ accounts {{ edges {{ node {{ {inner} }} }} }} }}"
    return f'{{ node(id: "x") {{ ... on Account {{ {inner} }} }} }}'


@st.composite
def hostile_documents(draw, world: fuzz_world.FuzzWorld) -> tuple[str, dict[str, Any]]:
    kind = draw(
        st.sampled_from(
            [
                "fragment fan-out",
                "fragment fields fan-out",
                "fragment cycle",
                "deep nesting",
                "aliases",
                "directives",
                "operations",
                "introspection",
                "huge int",
                "long string",
                "huge variable",
                "mutation typename",
                "subscription",
                "undeclared variable",
                "tokens",
            ]
        ),
        label="hostile",
    )
    gid = draw(st.sampled_from(world.global_ids))
    if kind == "fragment fan-out":
        return fragment_fan_out(draw(st.integers(1, 40)), draw(st.integers(2, 4))), {}
    if kind == "fragment fields fan-out":
        return fragment_fields_fan_out(draw(st.integers(1, 30)), draw(st.integers(2, 5))), {}
    if kind == "fragment cycle":
        return fragment_cycle(draw(st.integers(1, 4))), {}
    if kind == "deep nesting":
        return deep_nesting(draw(st.integers(1, 150))), {}
    if kind == "aliases":
        count = draw(st.integers(1, 200))
        return "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(count)) + " }", {}
    if kind == "directives":
        count = draw(st.integers(1, 300))
        directive = draw(st.sampled_from(["@include(if: true)", "@skip(if: false)", "@deprecated", "@nope"]))
        return "{ viewer " + " ".join([directive] * count) + " { role } }", {}
    if kind == "operations":
        count = draw(st.integers(1, 50))
        return " ".join(f"query Q{i} {{ viewer {{ role }} }}" for i in range(count)), {}
    if kind == "introspection":
        depth = draw(st.integers(1, 30))
        inner = "name"
        for _ in range(depth):
            inner = f"name kind ofType {{ {inner} }}"
        return f"{{ __schema {{ types {{ name fields {{ name type {{ {inner} }} }} }} }} }}", {}
    if kind == "huge int":
        digits = draw(st.sampled_from([10, 20, 400, 4300, 4301, 10_000, 100_000]))
        return f"{{ institutions(first: {'9' * digits}) {{ edges {{ cursor }} }} }}", {}
    if kind == "long string":
        size = draw(st.sampled_from([1_000, 100_000, 1_000_000]))
        return f'{{ institution(bic: "{"A" * size}") {{ id }} }}', {}
    if kind == "huge variable":
        size = draw(st.sampled_from([1_000, 100_000, 1_000_000]))
        return "query($b: String!) { institution(bic: $b) { id } }", {"b": "A" * size}
    if kind == "mutation typename":
        return "mutation { __typename }", {}
    if kind == "subscription":
        return "subscription { viewer { role } }", {}
    if kind == "undeclared variable":
        return "query($unused: Int) { node(id: $id) { id } }", {"id": gid, "unused": "x"}
    count = draw(st.integers(3_990, 4_010))  # around the token limit
    return "{ " + "__typename " * (count - 2) + "}", {}


# ---------------------------------------------------------------- requests


@dataclasses.dataclass
class Request:
    """One HTTP request; `document` and `variables` when it is an ordinary GraphQL POST."""

    kind: str
    key_label: str
    method: str = "POST"
    document: str | None = None
    variables: dict[str, Any] | None = None
    body: bytes = b""
    content_type: str | None = "application/json"
    params: dict[str, str] | None = None
    # root field -> the Decimals it was given that are plainly no amount (" 10 ", "NaN")
    malformed_decimals: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def text(self) -> str:
        """Everything the request says, decoded: a response may echo any of it."""
        parts = [self.document or "", self.body.decode("utf-8", "replace")]
        parts += [str(v) for v in (self.params or {}).values()]
        parts += _strings(self.variables)
        try:
            parts += _strings(json.loads(self.body))
        except (ValueError, RecursionError):
            pass
        return "\n".join(parts)

    def _repr_pretty_(self, printer, _cycle) -> None:  # how hypothesis shows a falsifying example
        printer.text(repr(self))

    def __repr__(self) -> str:
        lines = [f"{self.method} /graphql as {self.key_label} ({self.kind}), Content-Type: {self.content_type}"]
        if self.document is not None:
            lines.append(_clip(self.document, 3000))
            if self.variables:
                lines.append("variables: " + _clip(json.dumps(self.variables, ensure_ascii=True), 3000))
        elif self.params is not None:
            lines.append("params: " + _clip(repr(self.params), 3000))
        else:
            lines.append("body: " + _clip(repr(self.body), 3000))
        return "\n".join(lines)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else f"{text[:size]}... ({len(text)} characters)"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [] if value is None else [str(value)]


def envelope(document: str, variables: dict[str, Any]) -> bytes:
    # ensure_ascii writes a lone surrogate as \ud800, which httpx's json= cannot encode
    return json.dumps({"query": document, "variables": variables}, ensure_ascii=True).encode()


JUNK_JSON = [
    None,
    "x",
    1,
    1.5,
    True,
    [],
    [{"query": "{ viewer { role } }"}],
    {},
    {"query": None},
    {"query": 1},
    {"query": ["{ viewer { role } }"]},
    {"query": {"a": 1}},
    {"query": ""},
    {"query": "\x00"},
    {"query": "\ud800"},
    {"query": "{ viewer { role } }", "variables": "x"},
    {"query": "{ viewer { role } }", "variables": 1},
    {"query": "{ viewer { role } }", "variables": []},
    {"query": "{ viewer { role } }", "variables": True},
    {"query": "{ viewer { role } }", "variables": {"\ud800": "\ud800"}},
    {"query": "{ viewer { role } }", "operationName": 1},
    {"query": "{ viewer { role } }", "operationName": "Nope"},
    {"query": "{ viewer { role } }", "operationName": ""},
    {"query": "{ viewer { role } }", "operationName": "\x00"},
    {"query": "{ viewer { role } }", "extensions": "x"},
    {"query": "{ viewer { role } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "x"}}},
    {"query": "query Q($n: Int) { institutions(first: $n) { edges { cursor } } }", "variables": {"n": 1.5}},
    {"query": "query Q($n: Int) { institutions(first: $n) { edges { cursor } } }", "variables": {"n": 2**40}},
    {"query": "query Q($n: Int) { institutions(first: $n) { edges { cursor } } }", "variables": {"n": "1"}},
    {"extensions": {}},
]
VIEWER = "{ viewer { role } }"
HUGE = "9" * 5000
RAW_BODIES = [
    b"",
    b" ",
    b"{",
    b"nul",
    b"\x00",
    b"\xff\xfe\x00\x00",
    b"\xef\xbb\xbf" + json.dumps({"query": VIEWER}).encode(),  # a UTF-8 BOM
    json.dumps({"query": VIEWER}).encode("utf-16"),
    b'{"query": "{ viewer { role } }", "variables": {"a": NaN}}',
    b'{"query": "{ viewer { role } }", "variables": {"a": Infinity}}',
    b'{"query": "{ institution(bic: \\"\xff\\") { id } }"}',  # not UTF-8 inside a JSON string
    b'{"query": "{ viewer { role } }", "query": "{ currencies { code } }"}',
    b'{"query": "query($n: Int) { institutions(first: $n) { edges { cursor } } }", "variables": {"n": '
    + HUGE.encode()
    + b"}}",
    b'{"query": "query($d: Decimal!) { dollarIndex(at: null) }", "variables": {"d": 1' + b"0" * 5000 + b"}}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"query": "{ viewer { role } }", "variables": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/graphql",
    "application/graphql-response+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    None,
]


@st.composite
def envelopes(draw, world: fuzz_world.FuzzWorld, key_label: str) -> Request:
    """Requests that are not an ordinary GraphQL POST."""
    shape = draw(st.sampled_from(["json", "raw", "content type", "get"]), label="envelope")
    if shape == "json":
        value = draw(st.sampled_from(JUNK_JSON))
        return Request("junk JSON", key_label, body=json.dumps(value, ensure_ascii=True).encode())
    if shape == "raw":
        return Request("raw body", key_label, body=draw(st.sampled_from(RAW_BODIES)))
    if shape == "content type":
        content_type = draw(st.sampled_from(CONTENT_TYPES))
        body = draw(
            st.sampled_from(
                [
                    envelope(VIEWER, {}),
                    b"query=%7B+viewer+%7B+role+%7D+%7D",
                    b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query": "{ viewer { role } }"}'
                    b"\r\n--x--\r\n",
                    VIEWER.encode(),
                ]
            )
        )
        return Request("content type", key_label, body=body, content_type=content_type)
    document = draw(
        st.sampled_from(
            [
                VIEWER,
                'mutation { createApiKey(input: {role: ANALYST, label: "get"}) { secret } }',
                '{ node(id: "\\u0000") { id } }',
                "query($id: ID!) { node(id: $id) { id } }",
                "",
                "\x00",
            ]
        )
    )
    params = {"query": document}
    extra = draw(st.sampled_from([None, "{}", "x", "null", '{"id": "\\ud800"}', '{"id": 1}', "[" * 1000]))
    if extra is not None:
        params["variables"] = extra
    return Request("GET", key_label, method="GET", params=params, content_type=None)


# A document goes out once with each key: the least privileged first, so that the
# OPERATOR's mutations (which change the world) come last.
KEY_LABELS = ["ANALYST", "PARTICIPANT boc", "PARTICIPANT sber", "OPERATOR"]
BAD_AUTHORIZATIONS = {
    "no key": None,
    "unknown key": "Bearer not-a-key",
    "empty bearer": "Bearer ",
    "basic": "Basic dXNlcjpwYXNz",
    "odd bearer": "Bearer \x7f" + "x" * 5000,
}


@st.composite
def exchanges(draw, world: fuzz_world.FuzzWorld) -> list[Request]:
    """The requests of one example: a document sent with each role's key (or once, with
    a bad key), or one malformed envelope."""
    kind = draw(st.sampled_from(["generated"] * 16 + ["hostile"] * 2 + ["envelope"]), label="kind")
    if kind == "envelope":
        return [draw(envelopes(world, draw(st.sampled_from(KEY_LABELS), label="key")))]
    malformed: dict[str, list[str]] = {}
    if kind == "generated":
        document, variables, malformed = draw(operations(world))
    else:
        document, variables = draw(hostile_documents(world))
    labels = KEY_LABELS
    if draw(chance(50), label="bad key"):
        labels = [draw(st.sampled_from(sorted(BAD_AUTHORIZATIONS)), label="key")]
    body = envelope(document, variables)
    return [
        Request(kind, label, document=document, variables=variables, body=body, malformed_decimals=malformed)
        for label in labels
    ]


# ---------------------------------------------------------------- sending, with a liveness timeout


class Stalled(BaseException):
    """Raised by SIGALRM in whatever the blocked main thread runs: not an Exception, so no
    `except Exception` in the application swallows it."""


@contextlib.contextmanager
def alarm(seconds: float):
    def ring(_signum, _frame):
        raise Stalled(f"the event loop was blocked for {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclasses.dataclass
class Outcome:
    seconds: float
    status: int | None = None
    text: str = ""
    escaped: str | None = None  # an exception out of the application, or a stall
    logged: list[str] = dataclasses.field(default_factory=list)  # exceptions the server logged meanwhile


async def send(api, request: Request) -> Outcome:
    headers = {}
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    authorization = (
        BAD_AUTHORIZATIONS[request.key_label]
        if request.key_label in BAD_AUTHORIZATIONS
        else f"Bearer {api.fuzz_world.keys[request.key_label]}"
    )
    if authorization is not None:
        headers["Authorization"] = authorization
    SERVER_ERRORS.seen.clear()
    start = time.monotonic()
    task = asyncio.current_task()
    stacks: list[str] = []
    # Just before the timeout cancels a stalled request: where every task is waiting.
    watch = asyncio.get_running_loop().call_later(STALL_SECONDS * 0.95, lambda: stacks.append(task_stacks()))
    try:
        with alarm(STALL_SECONDS + ALARM_GRACE):
            async with asyncio.timeout(STALL_SECONDS):
                if request.method == "GET":
                    response = await api.client.get("/graphql", params=request.params, headers=headers)
                else:
                    response = await api.client.post("/graphql", content=request.body, headers=headers)
    except (TimeoutError, Stalled) as error:
        seconds = time.monotonic() - start
        if seconds >= STALL_SECONDS:
            where = f"; the tasks were waiting in:\n{stacks[0]}" if stacks else ""
            return Outcome(seconds, escaped=f"stall: no response after {seconds:.1f} s ({type(error).__name__}){where}")
        return Outcome(seconds, escaped=f"exception out of the application: {type(error).__name__}: {error}")
    except asyncio.CancelledError as error:
        if task is not None and task.cancelling():
            task.uncancel()
        return Outcome(time.monotonic() - start, escaped=f"exception out of the application: CancelledError {error}")
    except Exception as error:
        return Outcome(
            time.monotonic() - start,
            escaped=f"exception out of the application: {type(error).__name__}: {_clip(str(error), 300)}"
            f" (raised at {origin(error.__traceback__)})",
        )
    finally:
        watch.cancel()
    seconds = time.monotonic() - start
    return Outcome(seconds, status=response.status_code, text=response.text, logged=list(SERVER_ERRORS.seen))


def origin(tb) -> str:
    """Where an exception came from: the innermost frame of the project (not a library),
    and the innermost frame of all when that is elsewhere."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "?"
    ours = [f for f in frames if "site-packages" not in f.filename and "/lib/python" not in f.filename]
    shown = [f"{os.path.relpath(f.filename)}:{f.lineno} {f.name}" for f in ([ours[-1]] if ours else [])]
    if not ours or ours[-1] is not frames[-1]:
        last = frames[-1]
        shown.append(f"{'/'.join(last.filename.split('/')[-2:])}:{last.lineno} {last.name}")
    return " ... ".join(shown)


class _ServerErrors(logging.Handler):
    """The exceptions the server logs while a request runs (ErrorPolicy logs each internal
    fault with its traceback): where an INTERNAL_ERROR came from."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.seen.append(f"{type(error).__name__}: {_clip(str(error), 200)} at {origin(error.__traceback__)}")


SERVER_ERRORS = _ServerErrors()


def _awaiting(coro) -> list:
    """The frames of a suspended coroutine and of everything it awaits, outermost first."""
    frames = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames


def task_stacks() -> str:
    """Where each pending task waits, in project code (for a stall's report)."""
    lines = []
    for pending in asyncio.all_tasks():
        frames = [
            f"{os.path.relpath(f.f_code.co_filename)}:{f.f_lineno} {f.f_code.co_name}"
            for f in _awaiting(pending.get_coro())
            if "site-packages" not in f.f_code.co_filename and "/lib/python" not in f.f_code.co_filename
        ]
        if frames:
            lines.append("  " + " -> ".join(frames[-6:]))
    return "\n".join(sorted(set(lines))[:12])


WEDGE_PROBE = "{ currencies { code } institutions(first: 1) { edges { cursor } } }"


class Wedged(BaseException):
    """The service no longer answers a plain query after a stall: every later example would
    fail the same way (and shrinking would only stall again), so the test stops. Not an
    Exception, so that hypothesis does not try to shrink it."""


async def still_answers(api) -> str | None:
    """None if the service answers a plain query (as the OPERATOR), else what went wrong."""
    probe = Request("liveness probe", "OPERATOR", document=WEDGE_PROBE, variables={}, body=envelope(WEDGE_PROBE, {}))
    outcome = await send(api, probe)
    found = faults(probe, outcome)
    if not found and outcome.status == 200 and '"errors"' not in outcome.text:
        return None
    return f"{outcome.status} {outcome.escaped or ''} {_clip(outcome.text, 500)}"


# ---------------------------------------------------------------- what counts as a fault

# Text that only the server's insides write. Case matters for the SQL keywords (an English
# message may say "update"); package names match in any case.
LEAKS = [
    ("traceback", re.compile(r"Traceback")),
    ("source line", re.compile(r'File "')),
    ("python path", re.compile(r"site-packages|\.py\b")),
    ("database library", re.compile(r"sqlalchemy|asyncpg|aiosqlite|psycopg|sqlite3", re.IGNORECASE)),
    ("SQL", re.compile(r"\b(?:SELECT|INSERT|UPDATE|DELETE) |\[SQL:|\[parameters:|Background on this error")),
    ("address", re.compile(r"(?<![A-Za-z0-9_-])0x[0-9a-fA-F]{4,}")),
    ("python class", re.compile(r"<class '|<[a-z_.]+ object at ")),
    ("exception class", re.compile(r"\b[A-Z][a-z][A-Za-z0-9]*?(?:Error|Exception)\b(?:\(|: )")),
]


@dataclasses.dataclass
class Fault:
    category: str  # groups faults of one kind: what hypothesis shrinks and reports apart
    detail: str


def root_field(path: list | None) -> str:
    return str(path[0]) if path else "(no path)"


def faults(request: Request, outcome: Outcome) -> list[Fault]:
    if outcome.escaped is not None:
        category = outcome.escaped.split(":")[0]
        if category.startswith("exception"):
            category = "exception out of the application: " + outcome.escaped.split(":")[1].strip()
        return [Fault(category, outcome.escaped)]
    found: list[Fault] = []
    if outcome.seconds >= STALL_SECONDS:
        found.append(Fault("stall", f"answered after {outcome.seconds:.1f} s"))
    if outcome.status is not None and outcome.status >= 500:
        found.append(Fault(f"HTTP {outcome.status}", f"status {outcome.status}"))
    try:
        body = json.loads(outcome.text)
    except ValueError:
        body = None
        if outcome.status == 200:
            found.append(Fault("not JSON", "a 200 whose body is not JSON"))
    if isinstance(body, dict):
        if outcome.status == 200 and not ({"data", "errors"} & body.keys()):
            found.append(Fault("no data nor errors", "a 200 with neither data nor errors"))
        for error in body.get("errors") or []:
            if not isinstance(error, dict):
                found.append(Fault("malformed error", repr(error)))
                continue
            extensions = error.get("extensions") or {}
            if error.get("message") == MASKED or extensions.get("code") == "INTERNAL_ERROR":
                logged = "; server log: " + " | ".join(outcome.logged) if outcome.logged else ""
                found.append(Fault(f"INTERNAL_ERROR in {root_field(error.get('path'))}", json.dumps(error) + logged))
    if isinstance(body, dict):
        found += accepted_decimals(request, body)
        query = (request.params or {}).get("query", "")
        if request.method == "GET" and query.lstrip().startswith("mutation") and body.get("data"):
            found.append(Fault("mutation over GET", _clip(outcome.text, 300)))
    said = request.text()
    for text in _strings(body) if body is not None else [outcome.text]:
        for name, pattern in LEAKS:
            for match in pattern.finditer(text):
                if match.group(0) not in said:
                    found.append(Fault(f"leak: {name}", _clip(text, 500)))
                    break
    return found


def _errors_lists(value: Any) -> list[list]:
    if isinstance(value, dict):
        return [
            item
            for key, child in value.items()
            for item in ([child] if key == "errors" and isinstance(child, list) else _errors_lists(child))
        ]
    if isinstance(value, list):
        return [item for child in value for item in _errors_lists(child)]
    return []


def accepted_decimals(request: Request, body: dict) -> list[Fault]:
    """A mutation given a Decimal that is no amount must be refused: by a GraphQL error
    (on its field, or on the request), or by a user error in its payload. It was accepted
    when the payload selected `errors` and every such list is empty."""
    found = []
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    for key, values in request.malformed_decimals.items():
        if any(not e.get("path") or e["path"][0] == key for e in errors):
            continue
        lists = _errors_lists(data.get(key))
        if lists and not any(lists):
            found.append(Fault("malformed Decimal accepted", f"{key} took {values!r}: {_clip(json.dumps(data), 500)}"))
    return found


# ---------------------------------------------------------------- counts and the report


@dataclasses.dataclass
class Stats:
    requests: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    seconds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    # category -> (times seen, the shortest request that showed it, its fault)
    faults: dict[str, list] = dataclasses.field(default_factory=dict)

    def record(self, dialect: str, request: Request, outcome: Outcome, found: list[Fault]) -> None:
        self.requests[dialect] += 1
        self.seconds[dialect] += outcome.seconds
        self.statuses[outcome.status or outcome.escaped.split(":")[0]] += 1
        self.add_faults(dialect, request, outcome, found)

    def add_faults(self, dialect: str, request: Request, outcome: Outcome, found: list[Fault]) -> None:
        for fault in found:
            key = f"[{dialect}] {fault.category}"
            seen = self.faults.setdefault(key, [0, None, None])
            seen[0] += 1
            shown = repr(request)
            if seen[1] is None or len(shown) < len(seen[1]):
                seen[1], seen[2] = shown, f"{fault.detail}\nresponse ({outcome.status}): {_clip(outcome.text, 800)}"

    def lines(self) -> list[str]:
        total = sum(self.requests.values())
        per = ", ".join(f"{d}: {n} in {self.seconds[d]:.1f} s" for d, n in sorted(self.requests.items()))
        lines = [f"fuzz: {total} requests sent ({per}); statuses {dict(self.statuses)}"]
        for key, (count, request, detail) in sorted(self.faults.items()):
            lines.append(f"fuzz fault {key}: {count} times; the shortest request:\n{request}\n{detail}\n")
        return lines


STATS = Stats()


class _Summary:
    def pytest_terminal_summary(self, terminalreporter):
        if STATS.requests:
            terminalreporter.section("fuzz")
            for line in STATS.lines():
                terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("corridor-fuzz-summary"):
        manager.register(_Summary(), "corridor-fuzz-summary")
    logging.getLogger().addHandler(SERVER_ERRORS)
    yield
    logging.getLogger().removeHandler(SERVER_ERRORS)
    if STATS.requests:
        print("\n" + "\n".join(STATS.lines()))


_FAILURES: dict[str, type[AssertionError]] = {}


def failure(category: str) -> type[AssertionError]:
    """An AssertionError subclass per kind of fault, so that hypothesis shrinks and
    reports each kind on its own instead of stopping at the first."""
    found = _FAILURES.get(category)
    if found is None:
        name = "Fuzz_" + re.sub(r"\W+", "_", category).strip("_")
        found = _FAILURES[category] = type(name, (AssertionError,), {"__module__": __name__})
    return found


# ---------------------------------------------------------------- the test


_WORLDS: dict[str, fuzz_world.FuzzWorld] = {}  # the `api` fixture's OPERATOR key -> its world
_RECENT: collections.deque = collections.deque(maxlen=5)  # the last mutations that went through
_LAST: collections.deque = collections.deque(maxlen=3)  # the last requests answered


async def world_of(api) -> fuzz_world.FuzzWorld:
    world = _WORLDS.get(api.key)
    if world is None:
        world = await fuzz_world.build(api)
        _WORLDS.clear()
        _WORLDS[api.key] = world
        _RECENT.clear()
        _LAST.clear()
    api.fuzz_world = world
    return world


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Surveying records faults and never fails an example: nothing to shrink.
    phases=[Phase.explicit, Phase.reuse, Phase.generate] if SURVEY else list(Phase),
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
@hypothesis_given(data=st.data())
async def test_no_request_makes_the_server_fault(api, data):
    world = await world_of(api)
    for request in data.draw(exchanges(world), label="requests"):
        outcome = await send(api, request)
        found = faults(request, outcome)
        STATS.record(api.dialect, request, outcome, found)
        if LOG:
            with open(LOG, "a", encoding="utf-8", errors="backslashreplace") as log:
                log.write(f"{request!r}\n=> {outcome.status} {outcome.escaped or ''} {_clip(outcome.text, 2000)}\n\n")
        if any(f.category == "stall" for f in found):
            broken = await still_answers(api)
            if broken is not None:
                STATS.add_faults(api.dialect, request, outcome, [Fault("service wedged after a stall", broken)])
                earlier = "\n\n".join(repr(r) for r in _LAST) or "(none)"
                raise Wedged(
                    f"the service stopped answering on {api.dialect} after a stalled request.\n\n"
                    f"stalled request:\n{request!r}\n{outcome.escaped}\n\nthe probe {WEDGE_PROBE} then got: "
                    f"{broken}\n\nthe requests before the stall:\n{earlier}"
                )
            if SURVEY:
                break  # the same document with the next key would stall again
        if found and not SURVEY:
            recent = "\n\n".join(repr(r) for r in _RECENT) or "(none)"
            message = (
                f"{found[0].category} on {api.dialect}\n\nrequest:\n{request!r}\n\n"
                f"response ({outcome.status}, {outcome.seconds:.2f} s):\n"
                f"{_clip(outcome.text or str(outcome.escaped), 3000)}\n\n"
                f"faults: {[f.category for f in found]}\n\nthe last mutations before it:\n{recent}"
            )
            note(message)
            raise failure(found[0].category)(message)
        _LAST.append(request)
        if request.document and request.document.lstrip().startswith("mutation"):
            _RECENT.append(request)


def test_fuzz_survey_found_no_faults(database_url):
    """With CORRIDOR_FUZZ_SURVEY=1 the fuzz test records faults instead of failing: this
    test, run right after it on each engine, fails if it recorded any."""
    if not SURVEY:
        pytest.skip("CORRIDOR_FUZZ_SURVEY is not set: the fuzz test fails on its first fault itself")
    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    kinds = {key: value[0] for key, value in STATS.faults.items() if key.startswith(f"[{dialect}]")}
    assert not kinds, f"the fuzz test found faults (each shown in the fuzz summary below): {kinds}"


def test_fault_checks_accept_real_answers():
    """The leak patterns stay quiet on answers the service really gives, and catch insides."""
    request = Request("unit", "OPERATOR", document="{ viewer { role } }", variables={})
    fine = [
        '{"data": {"viewer": {"role": "OPERATOR"}}}',
        '{"data": null, "errors": [{"message": "Syntax Error: Unexpected Name \\"x\\".", "locations": []}]}',
        '{"errors": [{"message": "Cannot query field \'x\' on type \'UserError\'."}]}',
        '{"errors": [{"message": "Not the id of a Account.", "extensions": {"code": "INVALID_INPUT"}}]}',
        "{\"errors\": [{\"message\": \"Variable '$v0' got invalid value 'x'; Expected type 'Decimal'.\"}]}",
        '{"data": {"institutions": {"edges": [{"cursor": "Y3Vyc29yOjE"}]}}}',
        '{"data": {"node": {"id": "QWNjb3VudDox0x1234"}}}',
    ]
    for text in fine:
        assert faults(request, Outcome(0.01, 200, text)) == [], text
    leaking = [
        '{"errors": [{"message": "(sqlalchemy.exc.IntegrityError) UNIQUE constraint failed"}]}',
        '{"errors": [{"message": "Traceback (most recent call last):"}]}',
        '{"errors": [{"message": "invalid value; [<class \'decimal.ConversionSyntax\'>]"}]}',
        '{"errors": [{"message": "ValueError: year 10000 is out of range"}]}',
        '{"errors": [{"message": "<object object at 0x7f3a2c1b>"}]}',
        '{"errors": [{"message": "[SQL: SELECT account.id FROM account]"}]}',
        '{"errors": [{"message": "Unexpected error.", "extensions": {"code": "INTERNAL_ERROR"}}]}',
    ]
    for text in leaking:
        assert faults(request, Outcome(0.01, 200, text)), text
    # What the request itself said may come back.
    echo = Request("unit", "OPERATOR", document='{ institution(bic: "Traceback") { id } }', variables={})
    assert faults(echo, Outcome(0.01, 200, '{"errors": [{"message": "No Traceback here."}]}')) == []
    assert [f.category for f in faults(request, Outcome(25.0, 200, '{"data": {}}'))] == ["stall"]
    # A Decimal that is no amount must be refused, on its field or in its payload.
    odd = Request("unit", "OPERATOR", document="mutation { ... }", malformed_decimals={"postTransfer": [" 10 "]})
    accepted = '{"data": {"postTransfer": {"created": true, "errors": []}}}'
    assert [f.category for f in faults(odd, Outcome(0.01, 200, accepted))] == ["malformed Decimal accepted"]
    refused = [
        '{"data": null, "errors": [{"message": "Not a Decimal: \' 10 \'."}]}',
        '{"data": {"postTransfer": null}, "errors": [{"message": "x", "path": ["postTransfer"]}]}',
        '{"data": {"postTransfer": {"created": false, "errors": [{"code": "INVALID_INPUT"}]}}}',
        '{"data": {"postTransfer": {"created": true}}}',  # errors not selected: nothing to tell
    ]
    for text in refused:
        assert faults(odd, Outcome(0.01, 200, text)) == [], text
    assert [f.category for f in faults(request, Outcome(0.01, 500, "Internal Server Error"))] == ["HTTP 500"]


T1, T2 = "5b3e4cf8-5a0e-4b8e-9a36-1f1b2f0f6a01", "5b3e4cf8-5a0e-4b8e-9a36-1f1b2f0f6a02"


def test_lifting_arguments_into_variables_keeps_the_document_valid():
    schema = served_schema()
    document = graphql.parse(
        f'mutation {{ postTransfer(transferId: "{T1}", amount: "1.00") {{ created }} '
        f'createTransfers(transfers: [{{transferId: "{T2}", debitAccountId: "a", creditAccountId: "b", '
        'amount: "1", currency: "RUB"}]) { results { created } } }'
    )
    lifted, variables = lift_variables(document, schema, [True])
    assert graphql.validate(schema, lifted) == []
    transfer = {"transferId": T2, "debitAccountId": "a", "creditAccountId": "b", "amount": "1", "currency": "RUB"}
    assert variables == {"v0": T1, "v1": "1.00", "v2": [transfer]}
    # One value in two: the amount, then the transfer's debitAccountId, amount and currency... all still valid.
    some, values = lift_variables(document, schema, [False, True])
    assert graphql.validate(schema, some) == []
    assert values and all(name.startswith("v") for name in values)
    assert "$v0" in graphql.print_ast(some)
    # The Decimals that are no amount, by root field, inline or in variables.
    odd = graphql.parse(
        f'mutation {{ a: postTransfer(transferId: "{T1}", amount: " 10 ") {{ created }} '
        f'b: postTransfer(transferId: "{T1}", amount: "10") {{ created }} '
        "c: createTransfers(transfers: $t) { results { created } } }"
    )
    variables = {"t": [{"amount": "1"}, {"amount": "NaN"}, {"amount": "1E-30"}]}
    assert malformed_decimals(odd, schema, variables) == {"a": [" 10 "], "c": ["NaN"]}
