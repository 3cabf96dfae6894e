"""Quotes and the exchange: a quote fixes a priced conversion and an expiry for its
requester; an exchange posts the quote's legs atomically, once, through the ledger's
`post_legs`, and a replay of its transferId returns them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import bindparam, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.fx import ExchangeLeg, Quote, QuoteState
from models.ledger import Account
from resolvers import ledger, reference
from resolvers.access import Action, Principal, may_act_for, require, visible_institution
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.fx.paths import check_avoid
from resolvers.fx.pricing import conversion_legs, price_conversion, provider_positions
from resolvers.money import parse_amount, significant
from resolvers.rows import rows_by_id


async def request_quote(
    session: AsyncSession,
    principal: Principal,
    *,
    sell_currency: str,
    buy_currency: str,
    sell_amount: Decimal | None,
    buy_amount: Decimal | None,
    avoid: Iterable[str],
    now: dt.datetime,
    seconds: int,
) -> Quote:
    """Fix a priced conversion (`price_conversion`) and an expiry."""
    require(principal, Action.WRITE_OWN)
    sell, buy = sell_currency.strip().upper(), buy_currency.strip().upper()
    units = await reference.minor_units(session)
    for name, code in (("sellCurrency", sell), ("buyCurrency", buy)):
        if code not in units:
            raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code!r}.", [name])
    if sell == buy:
        raise invalid("sellCurrency and buyCurrency must differ.", "buyCurrency")
    if (sell_amount is None) == (buy_amount is None):
        raise invalid("Give exactly one of sellAmount and buyAmount.", "sellAmount")
    given, given_currency, field = (
        (sell_amount, sell, "sellAmount") if sell_amount is not None else (buy_amount, buy, "buyAmount")
    )
    given_minor = parse_amount(given, given_currency, units[given_currency], field)
    conversion = await price_conversion(
        session,
        sell=sell,
        buy=buy,
        sell_minor=given_minor if sell_amount is not None else None,
        buy_minor=given_minor if buy_amount is not None else None,
        avoid=check_avoid(sell, buy, avoid),
        now=now,
        field=field,
    )
    quote = Quote(
        sell_currency=sell,
        buy_currency=buy,
        sell_amount=conversion.sell_amount,
        buy_amount=conversion.buy_amount,
        rate=str(conversion.rate),
        path=",".join(conversion.currencies),
        providers=",".join(str(p) for p in conversion.providers),
        leg_rates=",".join(str(significant(rate)) for rate in conversion.rates),
        amounts=",".join(str(a) for a in conversion.amounts),
        state=QuoteState.OPEN,
        expires_at=now + dt.timedelta(seconds=seconds),
        created_at=now,
        owner_id=principal.institution_id,
    )
    session.add(quote)
    await session.flush()
    return quote


def quote_state(quote: Quote, now: dt.datetime) -> QuoteState:
    if quote.state is QuoteState.OPEN and quote.expires_at <= now:
        return QuoteState.EXPIRED
    return quote.state


def quote_providers(quote: Quote) -> list[int]:
    """The providers in order, each once."""
    seen: list[int] = []
    for provider in (int(p) for p in quote.providers.split(",")):
        if provider not in seen:
            seen.append(provider)
    return seen


def may_see_quote(principal: Principal, quote: Quote) -> bool:
    """A quote is its requester's: the institution a participant asked for it, or the
    operators for their own; operators see every quote."""
    institution = visible_institution(principal)
    return institution is None or (quote.owner_id is not None and quote.owner_id == institution)


EXCHANGE_LEGS = ExchangeLeg.__table__
_EXCHANGE_TRANSFERS = (
    select(ledger.TRANSFERS)
    .join(EXCHANGE_LEGS, EXCHANGE_LEGS.c.transfer_id == ledger.TRANSFERS.c.id)
    .where(EXCHANGE_LEGS.c.quote_id == bindparam("quote"))
    .order_by(EXCHANGE_LEGS.c.position)
)


async def exchange_transfers(session: AsyncSession, quote_id: int) -> list:
    """The ledger transfers an exchange of the quote posted, in order."""
    connection = await session.connection()
    return list(await connection.execute(_EXCHANGE_TRANSFERS, {"quote": quote_id}))


async def _quote_for_exchange(
    session: AsyncSession, principal: Principal, quote_id: int, transfer_id: uuid.UUID
) -> tuple[Quote, bool]:
    """(the quote, whether this exchange already happened). NOT_FOUND for a quote the
    caller may not see; IDEMPOTENCY_CONFLICT for a transferId that executed another
    quote (saying nothing of it); QUOTE_USED for a quote another exchange used."""
    quote = await session.get(Quote, quote_id)
    if quote is None or not may_see_quote(principal, quote):
        raise DomainError(ErrorCode.NOT_FOUND, "No such quote.", ["quoteId"])
    if quote.state is QuoteState.USED and quote.used_by == transfer_id:
        return quote, True
    other = (await session.exec(select(Quote.id).where(Quote.used_by == transfer_id))).first()
    if other is not None:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT, "This transferId was used by another exchange.", ["transferId"]
        )
    if quote.state is QuoteState.USED:
        raise DomainError(ErrorCode.QUOTE_USED, "The quote has been used.", ["quoteId"])
    return quote, False


async def _claim(session: AsyncSession, quote: Quote, transfer_id: uuid.UUID) -> bool:
    """Mark the quote used by this exchange; False when a concurrent one took it first."""
    connection = await session.connection()
    used = await connection.execute(
        update(Quote)
        .where(Quote.id == quote.id, Quote.state == QuoteState.OPEN)
        .values(state=QuoteState.USED, used_by=transfer_id)
    )
    return used.rowcount == 1


async def exchange(
    session: AsyncSession,
    principal: Principal,
    *,
    transfer_id: uuid.UUID,
    quote_id: int,
    debit_account_id: int,
    credit_account_id: int,
    now: dt.datetime,
) -> list:
    """Post the quote's legs atomically; a replay of the same transferId returns them.
    Only the quote's owner (or an operator) executes it, once."""
    require(principal, Action.WRITE_OWN)
    quote, done = await _quote_for_exchange(session, principal, quote_id, transfer_id)
    if done:
        return await exchange_transfers(session, quote.id)
    debit, credit = await rows_by_id(session, Account, [debit_account_id, credit_account_id])
    if debit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such account.", ["debitAccountId"])
    if credit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such account.", ["creditAccountId"])
    if not may_act_for(principal, debit.owner_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "A participant exchanges only from its own accounts.", ["debitAccountId"]
        )
    if quote_state(quote, now) is QuoteState.EXPIRED:
        raise DomainError(ErrorCode.QUOTE_EXPIRED, "The quote has expired; request a new one.", ["quoteId"])
    if debit.currency_code != quote.sell_currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH, f"The debit account must be in {quote.sell_currency}.", ["debitAccountId"]
        )
    if credit.currency_code != quote.buy_currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH, f"The credit account must be in {quote.buy_currency}.", ["creditAccountId"]
        )
    if not await _claim(session, quote, transfer_id):
        # A concurrent exchange took it first (it committed, or we would still be waiting):
        # ours replayed, or another.
        await session.refresh(quote)
        await _quote_for_exchange(session, principal, quote_id, transfer_id)  # raises unless it was ours
        return await exchange_transfers(session, quote.id)
    transfers = await _post_exchange_legs(session, quote, transfer_id, debit_account_id, credit_account_id, now)
    session.add_all(
        ExchangeLeg(quote_id=quote.id, position=k, transfer_id=transfer.id) for k, transfer in enumerate(transfers)
    )
    await session.flush()
    return transfers


async def _post_exchange_legs(
    session: AsyncSession, quote: Quote, transfer_id: uuid.UUID, debit_id: int, credit_id: int, now: dt.datetime
) -> list:
    """Post the quote's legs in one atomic ledger call; the transfers in leg order."""
    currencies = quote.path.split(",")
    amounts = [int(a) for a in quote.amounts.split(",")]
    providers = [int(p) for p in quote.providers.split(",")]
    positions = await provider_positions(session, set(currencies), now)
    legs = conversion_legs(
        currencies, providers, amounts, {key: p.account_id for key, p in positions.items()}, debit_id, credit_id
    )
    try:
        # Fresh transferIds: the quote, claimed by the caller, is what makes a replay.
        return await ledger.post_legs(
            session,
            [ledger.Leg(*leg, reference=f"exchange {transfer_id} leg {k + 1}") for k, leg in enumerate(legs)],
            now=now,
        )
    except ledger.LegRefused as refused:
        raise _exchange_refusal(refused) from None


def _exchange_refusal(refused: ledger.LegRefused) -> DomainError:
    """What the ledger's refusal of a leg means for the exchange: the client's account
    (leg 0) is short, or a provider's position is, or the ledger's own error."""
    if refused.code is ErrorCode.INSUFFICIENT_FUNDS and refused.index == 0:
        return DomainError(
            ErrorCode.INSUFFICIENT_FUNDS, "The debit account's available balance is too low.", ["debitAccountId"]
        )
    if refused.code is ErrorCode.INSUFFICIENT_FUNDS:
        return DomainError(ErrorCode.INSUFFICIENT_LIQUIDITY, "An FX provider's position can no longer pay this quote.")
    return DomainError(refused.code, refused.message)
