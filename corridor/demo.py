"""The demo network of ../shared/DESIGN.md, loaded idempotently by `corridor demo`.

Institutions carry their real BICs where the institution publishes one; the
operators of the schemes and the FX provider are illustrative (marked so in
their names). Loading twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.reference import InstitutionKind
from resolvers import reference
from resolvers.access import SYSTEM

CB = InstitutionKind.CENTRAL_BANK
BANK = InstitutionKind.COMMERCIAL_BANK
FX = InstitutionKind.FX_PROVIDER
SCHEME = InstitutionKind.SCHEME_OPERATOR
NETWORK = InstitutionKind.NETWORK_OPERATOR


@dataclass(frozen=True)
class DemoInstitution:
    bic: str
    name: str
    country: str
    kind: InstitutionKind
    spread_bps: int | None = None


INSTITUTIONS: tuple[DemoInstitution, ...] = (
    # central banks
    DemoInstitution("CBRFRUMM", "Bank of Russia", "RU", CB),
    DemoInstitution("PBOCCNBJ", "People's Bank of China", "CN", CB),
    DemoInstitution("RBISINBB", "Reserve Bank of India", "IN", CB),
    DemoInstitution("BMJIIRTH", "Central Bank of the Islamic Republic of Iran", "IR", CB),
    DemoInstitution("BCBBBRDF", "Banco Central do Brasil", "BR", CB),
    DemoInstitution("SARBZAJP", "South African Reserve Bank", "ZA", CB),
    DemoInstitution("FRNYUS33", "Federal Reserve Bank of New York", "US", CB),
    DemoInstitution("ECBFDEFF", "European Central Bank", "DE", CB),
    # commercial banks in RU, CN, IN, IR
    DemoInstitution("SABRRUMM", "Sberbank", "RU", BANK),
    DemoInstitution("VTBRRUMM", "VTB Bank", "RU", BANK),
    DemoInstitution("BKCHCNBJ", "Bank of China", "CN", BANK),
    DemoInstitution("ICBKCNBJ", "Industrial and Commercial Bank of China", "CN", BANK),
    DemoInstitution("SBININBB", "State Bank of India", "IN", BANK),
    DemoInstitution("MELIIRTH", "Bank Melli Iran", "IR", BANK),
    # an FX provider (illustrative)
    DemoInstitution("CRFXAEAD", "Corridor FX (illustrative)", "AE", FX, spread_bps=25),
    # card scheme operators (BICs illustrative)
    DemoInstitution("NSPKRUMM", "National Card Payment System, Mir (illustrative BIC)", "RU", SCHEME),
    DemoInstitution("UPICCNSH", "UnionPay International (illustrative BIC)", "CN", SCHEME),
    DemoInstitution("VISAUS6S", "Visa (illustrative BIC)", "US", SCHEME),
    DemoInstitution("MCINUS33", "Mastercard (illustrative BIC)", "US", SCHEME),
    # payment network operators
    DemoInstitution("SWHQBEBB", "SWIFT", "BE", NETWORK),
    DemoInstitution("CBRFRUMMSPF", "SPFS, Bank of Russia financial messaging system", "RU", NETWORK),
    DemoInstitution("CIPSCNSH", "Cross-Border Interbank Payment System (CIPS)", "CN", NETWORK),
)


async def load(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Load what is missing; return how many of each thing were created."""
    created = {"institutions": 0}
    async with sessions() as session, session.begin():
        for item in INSTITUTIONS:
            if await reference.institution_by_bic(session, item.bic) is None:
                await reference.create_institution(
                    session,
                    SYSTEM,
                    name=item.name,
                    bic=item.bic,
                    country_code=item.country,
                    kind=item.kind,
                    spread_bps=item.spread_bps,
                )
                created["institutions"] += 1
    return created
