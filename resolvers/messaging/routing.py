"""Routing: which networks can carry a payment between two institutions in a currency,
why the others cannot, and the order the service tries them in.

A network qualifies when both institutions are ACTIVE members (else RR04, with a
suspended member's reason) and it settles the currency (else AM03). The order: a
network whose country issues the currency first (CIPS for CNY, SPFS for RUB), then
global networks (no country: SWIFT), then other countries' networks; by code within
each. `NetworkMap.choose` takes the first that qualifies, or NO_ROUTE.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.messaging import NetworkMembership, ParticipationStatus
from models.reference import Institution
from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.messaging.networks import Network, list_networks

NOT_A_MEMBER = "RR04"  # regulatory reason: not (or no longer) allowed on the network
NOT_SETTLED = "AM03"  # the currency is not one the network processes


@dataclass(frozen=True)
class RouteOption:
    """One network judged for one payment: every reason it cannot carry it (none when it
    qualifies), the ISO 20022 reason code of the first, and its detail."""

    network: Network
    reasons: tuple[str, ...]
    reason_code: str | None

    @property
    def qualifies(self) -> bool:
        return not self.reasons


def _membership_reason(role: str, institution: Institution, membership: NetworkMembership | None, code: str) -> str:
    if membership is None:
        return f"the {role} {institution.bic} is not a member of {code}"
    return f"the {role} {institution.bic} is SUSPENDED on {code} ({membership.reason or 'no reason given'})"


def judge(
    network: Network,
    sender: Institution,
    receiver: Institution,
    memberships: dict[tuple[int, int], NetworkMembership],
    currency: str,
) -> RouteOption:
    """Whether `network` can carry the payment, in the design's order of checks: both
    members ACTIVE (RR04), then the currency settled (AM03)."""
    reasons: list[str] = []
    code: str | None = None
    for role, institution in (("sender", sender), ("receiver", receiver)):
        membership = memberships.get((network.id, institution.id))
        if membership is None or membership.status is not ParticipationStatus.ACTIVE:
            reasons.append(_membership_reason(role, institution, membership, network.code))
            code = code or NOT_A_MEMBER
    if currency not in network.currencies:
        reasons.append(f"{network.code} does not settle {currency}")
        code = code or NOT_SETTLED
    return RouteOption(network, tuple(reasons), code)


@dataclass(frozen=True)
class NetworkMap:
    """What routing reads, loaded once for a batch of payments: every network with its
    currencies, the currency each country issues, and the memberships of the
    institutions involved."""

    networks: tuple[Network, ...]
    issuers: dict[str, str]
    memberships: dict[tuple[int, int], NetworkMembership]

    def by_code(self, code: str) -> Network | None:
        return next((network for network in self.networks if network.code == code), None)

    def ordered(self, currency: str) -> list[Network]:
        """The networks in the order the service tries them for `currency`."""

        def rank(network: Network) -> tuple[int, str]:
            country = network.row.country_code
            if country is not None and self.issuers.get(country) == currency:
                return 0, network.code
            return (1 if country is None else 2), network.code

        return sorted(self.networks, key=rank)

    def options(self, sender: Institution, receiver: Institution, currency: str) -> list[RouteOption]:
        """Every network judged for this payment, in routing order."""
        return [judge(n, sender, receiver, self.memberships, currency) for n in self.ordered(currency)]

    def choose(self, sender: Institution, receiver: Institution, currency: str) -> Network:
        """The first network in routing order that qualifies, or NO_ROUTE (naming why not)."""
        options = self.options(sender, receiver, currency)
        for option in options:
            if option.qualifies:
                return option.network
        why = "; ".join(f"{o.network.code}: {', '.join(o.reasons)}" for o in options) or "no networks"
        raise DomainError(
            ErrorCode.NO_ROUTE,
            f"No network carries {currency} from {sender.bic} to {receiver.bic} ({why}).",
            ["networkCode"],
        )


async def network_map(session: AsyncSession, institution_ids: set[int]) -> NetworkMap:
    """The networks, the issuers of currencies and these institutions' memberships: two
    statements (the countries' currencies are read once per process)."""
    networks = await list_networks(session)
    issuers = await reference.country_currencies(session)
    statement = select(NetworkMembership).where(NetworkMembership.institution_id.in_(institution_ids))
    memberships = {(m.network_id, m.institution_id): m for m in await session.exec(statement)}
    return NetworkMap(tuple(networks), issuers, memberships)


async def payment_routes(
    session: AsyncSession, principal: Principal, sender_bic: str, receiver_bic: str, currency: str
) -> list[RouteOption]:
    """paymentRoutes: every network judged for a payment between these BICs in `currency`."""
    require(principal, Action.READ_REFERENCE)
    parties = []
    for bic, field in ((sender_bic, "senderBic"), (receiver_bic, "receiverBic")):
        parties.append(await reference.named_institution(session, bic, field))
    if parties[0].id == parties[1].id:
        raise invalid("An interbank payment is between two institutions: the receiver is the sender.", "receiverBic")
    currency = currency.strip().upper()
    if currency not in await reference.minor_units(session):
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r}.", ["currency"])
    found = await network_map(session, {party.id for party in parties})
    return found.options(parties[0], parties[1], currency)
