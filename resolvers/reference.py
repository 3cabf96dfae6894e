"""Reference data: currencies, countries, institutions; the BIC rules of ISO 9362."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.reference import Country, Currency, Institution, InstitutionKind
from resolvers import rows
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.pagination import Page, keyset_page

# ISO 9362: 4-letter party prefix, 2-letter country code, 2-character location,
# optional 3-character branch.
BIC_PATTERN = re.compile(r"^[A-Z]{4}([A-Z]{2})[A-Z0-9]{2}([A-Z0-9]{3})?$")
NAME_MAX = 140
SPREAD_MAX_BPS = 10_000


def normalize_bic(bic: str) -> str:
    """Upper case; an 11-character BIC of the primary office (branch XXX) is its 8-character form."""
    bic = bic.strip().upper()
    if len(bic) == 11 and bic.endswith("XXX"):
        return bic[:8]
    return bic


def check_bic(bic: str, country_code: str | None = None) -> str:
    """The normalized BIC, or INVALID_INPUT on field `bic`."""
    normalized = normalize_bic(bic)
    match = BIC_PATTERN.match(normalized)
    if match is None:
        raise invalid(
            "A BIC is 8 or 11 characters: 4 letters, a 2-letter country code, "
            "2 letters or digits, and optionally a 3-character branch (ISO 9362).",
            "bic",
        )
    if country_code is not None and match.group(1) != country_code:
        raise invalid(f"The BIC's country code {match.group(1)} differs from countryCode {country_code}.", "bic")
    return normalized


# Currencies and countries never change once migrated (no API writes them): what the
# service needs of them is read once per process.
_READ_ONCE: dict[str, dict] = {}  # what `_mapping` read, by name
_currency_rows: dict[str, Any] = {}  # currency code -> its row (plain, immutable)


async def _mapping(session: AsyncSession, name: str, key, value) -> dict:
    """{key: value} over every row of their table, read the first time it is asked for."""
    found = _READ_ONCE.get(name)
    if found is None:
        found = _READ_ONCE[name] = dict((await session.exec(select(key, value))).all())
    return found


async def minor_units(session: AsyncSession) -> dict[str, int]:
    """Currency code -> minor units, for every known currency."""
    return await _mapping(session, "minor units", Currency.code, Currency.minor_units)


def cached_minor_units() -> dict[str, int] | None:
    """The minor units if a request already read them, else None."""
    return _READ_ONCE.get("minor units")


async def country_currencies(session: AsyncSession) -> dict[str, str]:
    """Country code -> the code of its currency, for every known country."""
    return await _mapping(session, "country currencies", Country.code, Country.currency_code)


async def currency_rows(session: AsyncSession, codes: Sequence[str]) -> list[Any]:
    """The currencies' rows (None for an unknown code), in the order of `codes`."""
    missing = [code for code in codes if code not in _currency_rows]
    if missing:
        for row in await rows.table_rows_by_id(session, Currency.__table__, missing):
            if row is not None:
                _currency_rows[row.code] = row
    return [_currency_rows.get(code) for code in codes]


def cached_currency_rows(codes: Sequence[str]) -> list[Any] | None:
    """The currencies' rows if every one was read before, else None."""
    if all(code in _currency_rows for code in codes):
        return [_currency_rows[code] for code in codes]
    return None


async def list_currencies(session: AsyncSession) -> list[Currency]:
    return list(await session.exec(select(Currency).order_by(Currency.code)))


async def list_countries(session: AsyncSession) -> list[Country]:
    return list(await session.exec(select(Country).order_by(Country.code)))


async def institution_by_bic(session: AsyncSession, bic: str) -> Institution | None:
    statement = select(Institution).where(Institution.bic == normalize_bic(bic))
    return (await session.exec(statement)).one_or_none()


async def named_institution(session: AsyncSession, bic: str, *field: str) -> Institution:
    """The institution with this BIC, or NOT_FOUND on `field`: how inputs name an institution by BIC."""
    found = await institution_by_bic(session, bic)
    if found is None:
        raise not_found(f"No institution with BIC {bic.strip()[:20]!r}.", *field)
    return found


async def list_institutions(
    session: AsyncSession,
    *,
    first: int | None = None,
    after: int | None = None,
    kind: InstitutionKind | None = None,
    country_code: str | None = None,
) -> Page[Institution]:
    statement = select(Institution)
    if kind is not None:
        statement = statement.where(Institution.kind == kind)
    if country_code is not None:
        statement = statement.where(Institution.country_code == country_code.strip().upper())
    return await keyset_page(session, statement, Institution.id, first=first, after=after)


async def create_institution(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    bic: str,
    country_code: str,
    kind: InstitutionKind,
    spread_bps: int | None = None,
) -> Institution:
    require(principal, Action.MANAGE_INSTITUTIONS)
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise invalid(f"name must be 1 to {NAME_MAX} characters.", "name")
    country_code = country_code.strip().upper()
    if await session.get(Country, country_code) is None:
        raise not_found(f"No country with code {country_code!r} (ISO 3166-1 alpha-2).", "countryCode")
    bic = check_bic(bic, country_code)
    if kind is InstitutionKind.FX_PROVIDER:
        spread_bps = 0 if spread_bps is None else spread_bps
        if not 0 <= spread_bps <= SPREAD_MAX_BPS:
            raise invalid(f"spreadBps must be between 0 and {SPREAD_MAX_BPS}.", "spreadBps")
    elif spread_bps is not None:
        raise invalid("Only an FX_PROVIDER has a spread.", "spreadBps")
    if await institution_by_bic(session, bic) is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"An institution with BIC {bic} exists.", ["bic"])
    institution = Institution(name=name, bic=bic, country_code=country_code, kind=kind, spread_bps=spread_bps)
    try:
        async with session.begin_nested():
            session.add(institution)
    except IntegrityError:
        # A concurrent request took the BIC between our check and our insert.
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"An institution with BIC {bic} exists.", ["bic"]) from None
    return institution
