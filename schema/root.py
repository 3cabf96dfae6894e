"""The strawberry Schema: every domain's queries and mutations, and the request guards."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from corridor.settings import Settings
from schema.access import AccessMutation, AccessQuery, ApiKey
from schema.analytics import DollarCostQuery, ReservesMutation, ReservesQuery, SharesQuery
from schema.base import Money, Node
from schema.cards import (
    Authorization,
    Card,
    CardIssuingMutation,
    CardIssuingQuery,
    CardPaymentMutation,
    CardPaymentQuery,
    CardScheme,
    CardsMutation,
    CardsQuery,
    Merchant,
    SchemeLink,
)
from schema.errors import ErrorPolicy
from schema.execution import page_execution
from schema.fx import Basket, FxMutation, FxQuery, Quote, QuoteMutation
from schema.inputs import InputBoundary
from schema.ledger import Account, LedgerMutation, LedgerQuery, Transfer, install_fast_resolvers
from schema.limits import bound_overlap_rule, limit_rule
from schema.messaging import (
    InterbankPayment,
    NetworkMutation,
    NetworkQuery,
    PaymentMutation,
    PaymentNetwork,
    PaymentQuery,
)
from schema.node import resolve_node
from schema.reference import Institution, ReferenceMutation, ReferenceQuery
from schema.scalars import SCALAR_OVERRIDES
from schema.settlement import SettlementMutation, SettlementQuery, SettlementWindow
from schema.subscriptions import Subscription


@strawberry.type
class Query(
    ReferenceQuery,
    AccessQuery,
    LedgerQuery,
    FxQuery,
    CardsQuery,
    CardIssuingQuery,
    CardPaymentQuery,
    NetworkQuery,
    PaymentQuery,
    SettlementQuery,
    ReservesQuery,
    SharesQuery,
    DollarCostQuery,
):
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)


@strawberry.type
class Mutation(
    ReferenceMutation,
    AccessMutation,
    LedgerMutation,
    FxMutation,
    QuoteMutation,
    CardsMutation,
    CardIssuingMutation,
    CardPaymentMutation,
    NetworkMutation,
    PaymentMutation,
    SettlementMutation,
    ReservesMutation,
):
    pass


class CorridorSchema(strawberry.Schema):
    def __init__(self, *args, types: list[type], **kwargs) -> None:
        super().__init__(*args, types=types, **kwargs)
        # Node types by GraphQL name: where node(id:) finds each type's own lookup.
        self.node_types = {
            cls.__strawberry_definition__.name: cls for cls in types if issubclass(cls, Node) and cls is not Node
        }
        assert all(hasattr(cls, "resolve_node") for cls in self.node_types.values()), "a Node type owns its lookup"

    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        # ErrorPolicy logs internal faults with the request id; business and
        # validation errors are answers, not server faults.
        return None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # Validation rule classes are made once, so the validation cache (keyed by the
    # rules as well as the document) hits across requests. Extensions themselves
    # are built per request: they hold per-request state. The limits cost time linear
    # in the document, however its fragments fan out (see schema/limits.py).
    rules = [limit_rule(settings.max_depth, settings.max_aliases, settings.max_fields, settings.max_same_name)]
    bound_overlap_rule()
    cache = settings.document_cache_size
    schema = CorridorSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            Institution,
            Account,
            Transfer,
            Basket,
            Quote,
            CardScheme,
            SchemeLink,
            Card,
            Merchant,
            Authorization,
            PaymentNetwork,
            InterbankPayment,
            SettlementWindow,
            ApiKey,
            Money,
        ],
        config=StrawberryConfig(auto_camel_case=True),
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=cache),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=cache),
            InputBoundary,
            ErrorPolicy,
        ],
    )
    install_fast_resolvers(schema)
    schema.execution_context_class = page_execution(schema)  # once every resolver is in place
    return schema
