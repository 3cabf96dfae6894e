"""schema.base.LeafExecution answers every query exactly as graphql-core's own execution
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

from schema.base import install_plain_resolvers, leaf_execution


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"


@strawberry.type
class Row:
    name: str
    note: str | None
    colour: Colour
    amount: Decimal
    tags: list[str]
    _fail: strawberry.Private[bool] = False

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
        return [
            Row(name="a", note=None, colour=Colour.RED, amount=Decimal("1.50"), tags=["x"]),
            Row(name="b", note="n", colour=Colour.RED, amount=Decimal("0.01"), tags=[], _fail=True),
            Row(name=None, note="m", colour=Colour.RED, amount=Decimal("2"), tags=["y"]),  # type: ignore[arg-type]
        ]

    @strawberry.field
    def row(self) -> Row | None:
        return Row(name="c", note=None, colour="BLUE", amount=Decimal("3"), tags=[])  # type: ignore[arg-type]


def schema() -> strawberry.Schema:
    built = strawberry.Schema(query=Query)
    install_plain_resolvers(built, "Row", "doubled", "later", "checked", "refused_later")
    return built


QUERIES = [
    "{ rows { name note colour amount tags doubled later shown(times: 2) } }",
    "{ rows { ... on Row { n: name, note } doubled } }",
    "{ rows { checked note } }",  # an error in a plain resolver, on a non-null field
    "{ rows { note refusedLater } }",  # an awaitable that fails, on a nullable field
    "{ row { name colour } }",  # a value its enum refuses
    "{ row { name @skip(if: true) note @include(if: false) amount } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_leaf_execution_answers_as_graphql_core(query):
    built = schema()
    leaves = leaf_execution(built._schema)
    assert ("Row", "doubled") in leaves.LEAVES and ("Row", "shown") not in leaves.LEAVES
    answers = []
    for execution in (StrawberryGraphQLCoreExecutionContext, leaves):
        built.execution_context_class = execution
        result = await built.execute(query, context_value={"who": "me"})
        errors = sorted((error.message, tuple(error.path or ())) for error in result.errors or [])
        answers.append((result.data, errors))
    assert answers[0] == answers[1]
    if "checked" in query or "refusedLater" in query or ("row {" in query and "colour" in query):
        assert answers[1][1], "the query was meant to fail somewhere"
