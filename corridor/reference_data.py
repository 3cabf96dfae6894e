"""The reference data every database holds once migrated, built from maintained packages.

- currencies: ISO 4217 (package `iso4217`), those with a minor unit, plus gold (XAU),
  which the ledger keeps in millionths of a troy ounce;
- countries: ISO 3166-1 (package `pycountry`), each with the legal tender CLDR
  (package `babel`) gives it today; plus EZ, the code ISO 3166 reserves for the
  euro area, which the dollar index and reserve analytics speak of;
- blocs: memberships no package publishes, kept here with their sources.
"""

from __future__ import annotations

import babel.numbers
import iso4217
import pycountry

# XAU has no ISO minor unit; the ledger counts gold in millionths of a troy ounce.
GOLD = {"code": "XAU", "name": "Gold (troy ounce)", "minor_units": 6}

EURO_AREA = {"code": "EZ", "name": "Euro area", "currency_code": "EUR"}

# BRICS members as of 2025 (Brazil, Russia, India, China, South Africa; Egypt,
# Ethiopia, Iran and the United Arab Emirates from 2024; Indonesia from 2025).
# The euro area as of 2026 (Bulgaria joined on 2026-01-01).
BLOCS: dict[str, tuple[str, ...]] = {
    "BRICS": ("BR", "RU", "IN", "CN", "ZA", "EG", "ET", "IR", "AE", "ID"),
    "EURO_AREA": (
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PT",
        "SK",
        "SI",
        "ES",
        "EZ",
    ),
}


def currencies() -> list[dict]:
    rows = [
        {"code": c.code, "name": c.currency_name, "minor_units": c.exponent}
        for c in iso4217.Currency
        if c.exponent is not None
    ]
    rows.append(dict(GOLD))
    return sorted(rows, key=lambda row: row["code"])


def countries(currency_codes: set[str]) -> list[dict]:
    rows = []
    for country in pycountry.countries:
        code = country.alpha_2
        tender = [c for c in babel.numbers.get_territory_currencies(code) if c in currency_codes]
        if code in BLOCS["EURO_AREA"] and "EUR" in currency_codes:
            tender = ["EUR"]
        if not tender:
            continue  # e.g. Antarctica: no legal tender, no country row
        name = getattr(country, "common_name", None) or country.name
        rows.append({"code": code, "name": name[:80], "currency_code": tender[0]})
    rows.append(dict(EURO_AREA))
    return sorted(rows, key=lambda row: row["code"])


def blocs(country_codes: set[str]) -> list[dict]:
    return [
        {"country_code": code, "bloc": bloc}
        for bloc, members in sorted(BLOCS.items())
        for code in members
        if code in country_codes
    ]


def all_rows() -> tuple[list[dict], list[dict], list[dict]]:
    currency_rows = currencies()
    country_rows = countries({row["code"] for row in currency_rows})
    bloc_rows = blocs({row["code"] for row in country_rows})
    return currency_rows, country_rows, bloc_rows
