"""Payment networks (SWIFT, SPFS, CIPS): the currencies each settles, its settlement
mode, and its member institutions, ACTIVE or SUSPENDED with a reason."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import CardScheme
from models.messaging import NetworkCurrency, NetworkMembership, ParticipationStatus, PaymentNetwork, SettlementMode
from models.reference import Country, Institution, InstitutionKind
from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.pagination import grouped_in_key_order

NETWORK_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,19}$")
NAME_MAX = 100
REASON_MAX = 200
CURRENCIES_MAX = 20


@dataclass(frozen=True)
class Network:
    """A network with the currencies it settles, in the operator's order: what routing reads."""

    row: PaymentNetwork
    currencies: tuple[str, ...]

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def code(self) -> str:
        return self.row.code


def _checked_currencies(currencies: Sequence[str], known: dict[str, int]) -> list[str]:
    """The settlement currencies upper-cased, each known and given once, at least one."""
    codes = [code.strip().upper() for code in currencies]
    if not codes or len(codes) > CURRENCIES_MAX:
        raise invalid(f"A network settles 1 to {CURRENCIES_MAX} currencies.", "settlementCurrencies")
    for index, code in enumerate(codes):
        if code not in known:
            raise DomainError(
                ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code!r}.", ["settlementCurrencies", str(index)]
            )
        if code in codes[:index]:
            raise invalid(f"{code} is listed twice.", "settlementCurrencies", str(index))
    return codes


async def create_payment_network(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    name: str,
    operator_id: int,
    country_code: str | None,
    settlement_currencies: Sequence[str],
    settlement_mode: SettlementMode,
) -> Network:
    """A new network run by a NETWORK_OPERATOR institution: the operator's act alone."""
    require(principal, Action.OPERATE)
    code, name = code.strip().upper(), name.strip()
    if not NETWORK_CODE.match(code):
        raise invalid("A network code is 2 to 20 capital letters, digits or _, starting with a letter.", "code")
    if not name or len(name) > NAME_MAX:
        raise invalid(f"name must be 1 to {NAME_MAX} characters.", "name")
    operator = await session.get(Institution, operator_id)
    if operator is None:
        raise not_found("No such institution.", "operatorId")
    if operator.kind is not InstitutionKind.NETWORK_OPERATOR:
        raise invalid("A network's operator is a NETWORK_OPERATOR institution.", "operatorId")
    if country_code is not None:
        country_code = country_code.strip().upper()
        if await session.get(Country, country_code) is None:
            raise not_found(f"No country with code {country_code!r}.", "countryCode")
    currencies = _checked_currencies(settlement_currencies, await reference.minor_units(session))
    if (await session.exec(select(PaymentNetwork.id).where(PaymentNetwork.code == code))).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"A network {code} exists.", ["code"])
    if (await session.exec(select(CardScheme.id).where(CardScheme.code == code))).first() is not None:
        # A code names one settlement scope: a network may not take a card scheme's.
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"{code} is a card scheme's code.", ["code"])
    network = PaymentNetwork(
        code=code, name=name, operator_id=operator_id, country_code=country_code, settlement_mode=settlement_mode
    )
    session.add(network)
    await session.flush()
    session.add_all(
        NetworkCurrency(network_id=network.id, currency_code=currency, position=k)
        for k, currency in enumerate(currencies)
    )
    await session.flush()
    return Network(network, tuple(currencies))


async def network_by_code(session: AsyncSession, code: str, *field: str) -> PaymentNetwork:
    """The network with this code (any case), or NOT_FOUND on `field`: how inputs name a network."""
    statement = select(PaymentNetwork).where(PaymentNetwork.code == code.strip().upper())
    network = (await session.exec(statement)).one_or_none()
    if network is None:
        raise not_found(f"No payment network {code[:30]!r}.", *field)
    return network


async def list_networks(session: AsyncSession) -> list[Network]:
    """Every network with its currencies, by code: the networks are few and public."""
    rows = list(await session.exec(select(PaymentNetwork).order_by(PaymentNetwork.code)))
    currencies = await network_currencies(session, [row.id for row in rows])
    return [Network(row, tuple(codes)) for row, codes in zip(rows, currencies, strict=True)]


async def network_currencies(session: AsyncSession, network_ids: Sequence[int]) -> list[list[str]]:
    """Each network's settlement currencies, in the operator's order (a DataLoader's batch)."""
    statement = (
        select(NetworkCurrency)
        .where(NetworkCurrency.network_id.in_(set(network_ids)))
        .order_by(NetworkCurrency.network_id, NetworkCurrency.position)
    )
    rows = grouped_in_key_order(await session.exec(statement), network_ids, lambda row: row.network_id)
    return [[row.currency_code for row in group] for group in rows]


async def set_network_membership(
    session: AsyncSession,
    principal: Principal,
    *,
    network_code: str,
    institution_id: int,
    status: ParticipationStatus,
    reason: str | None,
    now: dt.datetime,
) -> NetworkMembership:
    """Create or replace an institution's membership of a network (status and reason,
    such as SUSPENDED "disconnected 2022"), stamped `now`."""
    require(principal, Action.OPERATE)
    network = await network_by_code(session, network_code, "networkCode")
    if await session.get(Institution, institution_id) is None:
        raise not_found("No such institution.", "institutionId")
    reason = reason.strip() or None if reason else None
    if reason is not None and len(reason) > REASON_MAX:
        raise invalid(f"reason must be at most {REASON_MAX} characters.", "reason")
    membership = await session.get(NetworkMembership, (network.id, institution_id))
    if membership is None:
        membership = NetworkMembership(network_id=network.id, institution_id=institution_id, status=status)
        session.add(membership)
    membership.status, membership.reason, membership.updated_at = status, reason, now
    await session.flush()
    return membership
