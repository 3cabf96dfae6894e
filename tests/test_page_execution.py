"""schema.execution.PageExecution answers every query exactly as graphql-core's own execution
does, data and errors alike: plain values in place, and the ordinary way whatever is not
one (an awaitable, a null where none may be, an error, a value its scalar refuses)."""

from __future__ import annotations

import asyncio
import enum
from decimal import Decimal

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from schema.base import install_plain_resolvers
from schema.execution import page_execution


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"


@strawberry.type
class Part:
    label: str  # None in some: a non-null field's error, propagating up to the nearest nullable
    weight: Decimal | None

    @strawberry.field
    def later(self, info: Info) -> str:
        async def label() -> str:
            await asyncio.sleep(0)
            return f"{self.label} later"

        return label()


@strawberry.type
class Row:
    name: str
    note: str | None
    colour: Colour
    amount: Decimal
    tags: list[str]
    part: Part
    parts: list[Part]
    spare: Part | None = None
    maybe_parts: list[Part] | None = None
    _fail: strawberry.Private[bool] = False

    @strawberry.field
    def part_later(self, info: Info) -> Part:
        async def part() -> Part:
            await asyncio.sleep(0)
            return self.part

        return part()

    @strawberry.field
    def part_checked(self, info: Info) -> Part | None:
        if self._fail:
            raise ValueError("no part")
        return self.part

    @strawberry.field
    def doubled(self, info: Info) -> Decimal:
        return self.amount * 2

    @strawberry.field
    def later(self, info: Info) -> str:
        async def name() -> str:
            await asyncio.sleep(0)
            return f"{self.name} ({info.context['who']})"

        return name()

    @strawberry.field
    def checked(self, info: Info) -> str:
        if self._fail:
            raise ValueError(f"not for {info.context['who']}")
        return self.name

    @strawberry.field
    def refused_later(self, info: Info) -> str | None:
        async def refuse() -> str | None:
            raise ValueError("later, no")

        return refuse()

    @strawberry.field
    def shown(self, info: Info, times: int = 1) -> str:  # an argument: never a plain resolver
        return self.name * times


@strawberry.type
class Query:
    @strawberry.field
    def rows(self) -> list[Row]:
        good, bad = Part(label="p", weight=Decimal("0.5")), Part(label=None, weight=None)  # type: ignore[arg-type]
        return [
            Row(name="a", note=None, colour=Colour.RED, amount=Decimal("1.50"), tags=["x"], part=good, parts=[good]),
            Row(
                name="b",
                note="n",
                colour=Colour.RED,
                amount=Decimal("0.01"),
                tags=[],
                part=bad,
                parts=[good, bad],
                spare=bad,
                maybe_parts=[good, bad],
                _fail=True,
            ),
            Row(name=None, note="m", colour=Colour.RED, amount=Decimal("2"), tags=["y"], part=good, parts=[]),  # type: ignore[arg-type]
        ]

    @strawberry.field
    def row(self) -> Row | None:
        part = Part(label="q", weight=None)
        return Row(name="c", note=None, colour="BLUE", amount=Decimal("3"), tags=[], part=part, parts=[part])  # type: ignore[arg-type]

    @strawberry.field
    def maybe_rows(self) -> list[Row | None]:
        part = Part(label="r", weight=None)
        return [None, Row(name="d", note=None, colour=Colour.RED, amount=Decimal("4"), tags=[], part=part, parts=[])]


def schema() -> strawberry.Schema:
    built = strawberry.Schema(query=Query)
    install_plain_resolvers(built, "Row", "doubled", "later", "checked", "refused_later", "part_later", "part_checked")
    install_plain_resolvers(built, "Part", "later")
    return built


QUERIES = [
    "{ rows { name note colour amount tags doubled later shown(times: 2) } }",
    "{ rows { ... on Row { n: name, note } doubled } }",
    "{ rows { checked note } }",  # an error in a plain resolver, on a non-null field
    "{ rows { note refusedLater } }",  # an awaitable that fails, on a nullable field
    "{ row { name colour } }",  # a value its enum refuses
    "{ row { name @skip(if: true) note @include(if: false) amount } }",
    "{ row { part { label weight } parts { label later } } }",  # objects and lists resolved in place
    "{ rows { note part { weight } parts { weight later } partLater { label } } }",
    "{ rows { note part { label } } }",  # a null in a non-null field of a non-null object: up to the row
    "{ rows { note parts { label weight } } }",  # ... of an item of a list of non-null items
    "{ rows { note spare { label } maybeParts { label } partChecked { label } } }",  # nullable ones stop it
    "{ rows { note parts { later label } } }",  # awaiting items beside a failing one
    "{ maybeRows { name part { ... on Part { label } } } }",
    "{ rows { note part @include(if: true) { weight } } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_page_execution_answers_as_graphql_core(query):
    built = schema()
    leaves = page_execution(built)
    assert ("Row", "doubled") in leaves.LEAVES and ("Row", "shown") not in leaves.LEAVES
    assert {("Row", "part"), ("Row", "parts"), ("Row", "partLater")} <= set(leaves.OBJECTS)
    assert ("Query", "maybeRows") not in leaves.OBJECTS  # a list of nullable items: graphql-core's way
    answers = []
    for execution in (StrawberryGraphQLCoreExecutionContext, leaves):
        built.execution_context_class = execution
        result = await built.execute(query, context_value={"who": "me"})
        errors = sorted((error.message, tuple(error.path or ())) for error in result.errors or [])
        answers.append((result.data, errors))
    assert answers[0] == answers[1]
    if "checked" in query or "refusedLater" in query or ("row {" in query and "colour" in query):
        assert answers[1][1], "the query was meant to fail somewhere"
    if "rows { note part { label } }" in query or "parts { label weight }" in query:
        assert answers[1][1] and answers[1][0] is None, "the null was meant to propagate to the data"
