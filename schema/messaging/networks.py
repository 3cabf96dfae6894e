"""GraphQL types of the payment networks: networks, memberships, routes."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from models import messaging as models
from resolvers import messaging
from schema.base import Node, UserError, context, decode_id, global_id, mutate, now, principal, user_errors
from schema.cards.schemes import ParticipationStatus
from schema.loaders import loaders
from schema.reference import Country, Currency, Institution

SettlementMode = strawberry.enum(models.SettlementMode, name="SettlementMode")


@strawberry.type
class PaymentNetwork(Node):
    id: strawberry.ID
    code: str = strawberry.field(description="E.g. SWIFT, SPFS, CIPS.")
    name: str
    settlement_mode: SettlementMode
    _row: strawberry.Private[models.PaymentNetwork]

    @classmethod
    def of(cls, row: models.PaymentNetwork) -> PaymentNetwork:
        return cls(
            id=global_id("PaymentNetwork", row.id),
            code=row.code,
            name=row.name,
            settlement_mode=row.settlement_mode,
            _row=row,
        )

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> PaymentNetwork | None:
        """Networks are reference data: every caller sees them."""
        row = await loaders(info).payment_network.load(key)
        return cls.of(row) if row is not None else None

    @strawberry.field(
        description="The institution (kind NETWORK_OPERATOR) that runs the network; "
        "its SETTLEMENT accounts pool net settlement."
    )
    async def operator(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._row.operator_id)

    @strawberry.field(description="The country whose network it is; null for a global one such as SWIFT.")
    async def country(self, info: Info) -> Country | None:
        code = self._row.country_code
        return await Country.resolve(info, code) if code is not None else None

    @strawberry.field
    async def settlement_currencies(self, info: Info) -> list[Currency]:
        codes = await loaders(info).network_currencies.load(self._row.id)
        return [Currency.of(row) for row in await loaders(info).currency.load_many(codes)]

    @strawberry.field
    async def members(self, info: Info) -> list[NetworkMembership]:
        return [NetworkMembership.of(row) for row in await loaders(info).network_members.load(self._row.id)]


@strawberry.type
class NetworkMembership:
    status: ParticipationStatus
    reason: str | None
    _row: strawberry.Private[models.NetworkMembership]

    @classmethod
    def of(cls, row: models.NetworkMembership) -> NetworkMembership:
        return cls(status=row.status, reason=row.reason, _row=row)

    @strawberry.field
    async def institution(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._row.institution_id)

    @strawberry.field
    async def network(self, info: Info) -> PaymentNetwork:
        return await PaymentNetwork.resolve_node(info, self._row.network_id)


async def institution_network_memberships(info: Info, institution_id: int) -> list[NetworkMembership]:
    return [NetworkMembership.of(row) for row in await loaders(info).network_memberships.load(institution_id)]


@strawberry.type(description="Why a network can or cannot carry a payment between two institutions in a currency.")
class RouteOption:
    network: PaymentNetwork
    qualifies: bool
    reasons: list[str] = strawberry.field(
        description="Empty when it qualifies; otherwise each reason, e.g. the sender is SUSPENDED "
        "(disconnected 2022), the currency is not settled."
    )


@strawberry.input
class PaymentNetworkInput:
    code: str
    name: str
    operator_id: strawberry.ID
    country_code: str | None = None
    settlement_currencies: list[str]
    settlement_mode: SettlementMode


@strawberry.type
class PaymentNetworkPayload:
    network: PaymentNetwork | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class NetworkMembershipInput:
    network_code: str
    institution_id: strawberry.ID
    status: ParticipationStatus
    reason: str | None = None


@strawberry.type
class NetworkMembershipPayload:
    membership: NetworkMembership | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NetworkQuery:
    @strawberry.field
    async def payment_networks(self, info: Info) -> list[PaymentNetwork]:
        return [PaymentNetwork.of(network.row) for network in await context(info).read(messaging.list_networks)]

    @strawberry.field(
        description="Every network, whether it can carry this payment and why not, in the order the service "
        "would try them."
    )
    async def payment_routes(self, info: Info, sender_bic: str, receiver_bic: str, currency: str) -> list[RouteOption]:
        options = await context(info).read(
            lambda session: messaging.payment_routes(session, principal(info), sender_bic, receiver_bic, currency)
        )
        return [
            RouteOption(network=PaymentNetwork.of(o.network.row), qualifies=o.qualifies, reasons=list(o.reasons))
            for o in options
        ]


@strawberry.type
class NetworkMutation:
    @strawberry.mutation
    @user_errors(PaymentNetworkPayload, "input")
    async def create_payment_network(self, info: Info, input: PaymentNetworkInput) -> PaymentNetworkPayload:
        operator_id = decode_id(input.operator_id, "Institution", "operatorId")
        network = await mutate(
            info,
            messaging.create_payment_network,
            code=input.code,
            name=input.name,
            operator_id=operator_id,
            country_code=input.country_code,
            settlement_currencies=input.settlement_currencies,
            settlement_mode=input.settlement_mode,
        )
        return PaymentNetworkPayload(network=PaymentNetwork.of(network.row))

    @strawberry.mutation
    @user_errors(NetworkMembershipPayload, "input")
    async def set_network_membership(self, info: Info, input: NetworkMembershipInput) -> NetworkMembershipPayload:
        institution_id = decode_id(input.institution_id, "Institution", "institutionId")
        row = await mutate(
            info,
            messaging.set_network_membership,
            network_code=input.network_code,
            institution_id=institution_id,
            status=input.status,
            reason=input.reason,
            now=now(info),
        )
        return NetworkMembershipPayload(membership=NetworkMembership.of(row))
