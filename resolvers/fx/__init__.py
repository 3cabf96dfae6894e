"""FX: rates, conversion paths that can avoid a currency, basket units, the dollar index.

- A rate is (base, quote, rate, source, asOf): units of quote for one unit of base,
  a positive Decimal of at most 12 significant digits. Rates are history, never
  overwritten; the rate in force at a time is the latest published at or before it.
  The inverse pair is derived (1 / rate, to 12 significant digits).
- A conversion path is the shortest chain of pairs with a rate in force (fewest
  legs), then the best product of rates, through none of the avoided currencies.
- A basket fixes, at definition, an amount of each currency (weight x initial value
  / rate to the value currency: the SDR method); its value at any time is the sum of
  amount x rate.
- The dollar index follows ICE's formula over six pairs.

Where each part lives (each module imports only the ones above it):
- `rates`: the rate bounds, publishing rates, the rates in force at a time (from the
  rate book: every stored rate, read again only when the table has changed);
- `paths`: conversion paths (fewest legs, best product, avoided currencies);
- `baskets`: defining a basket and valuing it;
- `index`: the dollar index;
- `history`: the dollar index and a basket's value over time (series by DAY, WEEK or
  MONTH, replaying the stored rate history);
- `pricing`: the providers' positions and pricing a conversion (a provider per leg,
  rates after spreads, the amounts that change hands, the legs that move them); a
  `Market` holds the rates and positions read once for conversions priced together;
- `quotes`: quotes (requesting, their state and visibility) and the exchange, which
  posts a quote's legs through the ledger's `post_legs`.
Every rounding rule is `resolvers.money`'s; none lives here.
"""

from resolvers.fx.baskets import (
    BASKET_CODE,
    BASKET_VALUE_MAX,
    VALUE_DIGITS_MAX,
    WEIGHT_PLACES,
    ComponentSpec,
    basket_by_code,
    basket_value,
    define_basket,
)
from resolvers.fx.history import MAX_POINTS, Interval, Point, basket_history, dollar_index_history, points
from resolvers.fx.index import DXY_CONSTANT, DXY_PLACES, DXY_WEIGHTS, dollar_index, dollar_index_of
from resolvers.fx.paths import Path, check_avoid, conversion_path, converted, find_path
from resolvers.fx.pricing import (
    BPS,
    Conversion,
    Market,
    Position,
    all_in_rate,
    conversion_legs,
    price_conversion,
    provider_positions,
)
from resolvers.fx.quotes import (
    EXCHANGE_LEGS,
    exchange,
    exchange_transfers,
    may_see_quote,
    quote_providers,
    quote_state,
    request_quote,
)
from resolvers.fx.rates import (
    MAX_RATES,
    RATE_MAX,
    RATE_MIN,
    SOURCE_MAX,
    Rate,
    RateBook,
    RateSpec,
    exchange_rate,
    publish_rates,
    rate_book,
    rate_in_range,
    rates_in_force,
)

__all__ = [
    "BASKET_CODE",
    "BASKET_VALUE_MAX",
    "BPS",
    "DXY_CONSTANT",
    "DXY_PLACES",
    "DXY_WEIGHTS",
    "EXCHANGE_LEGS",
    "MAX_POINTS",
    "MAX_RATES",
    "RATE_MAX",
    "RATE_MIN",
    "SOURCE_MAX",
    "VALUE_DIGITS_MAX",
    "WEIGHT_PLACES",
    "ComponentSpec",
    "Conversion",
    "Interval",
    "Market",
    "Path",
    "Point",
    "Position",
    "Rate",
    "RateBook",
    "RateSpec",
    "all_in_rate",
    "basket_by_code",
    "basket_history",
    "basket_value",
    "check_avoid",
    "conversion_legs",
    "conversion_path",
    "converted",
    "define_basket",
    "dollar_index",
    "dollar_index_history",
    "dollar_index_of",
    "exchange",
    "exchange_rate",
    "exchange_transfers",
    "find_path",
    "may_see_quote",
    "points",
    "price_conversion",
    "provider_positions",
    "publish_rates",
    "quote_providers",
    "quote_state",
    "rate_book",
    "rate_in_range",
    "rates_in_force",
    "request_quote",
]
