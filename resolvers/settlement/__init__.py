"""Settlement: obligations in windows, netting when a window closes, and settling a closed
window on the ledger.

Rules: ../shared/DESIGN.md, "Settlement". `from resolvers import settlement` gives every
name below; each module imports only the ones above it:
- `obligations`: `record_obligations` (one per posted leg between two institutions, in
  the OPEN window of its scope and currency, opened on first need; the fence with
  closing);
- `windows`: positions (one aggregate statement), closing a window (and the schedule's
  `close_due`), netting efficiency, who sees a window and its positions, the list;
- `settling`: settling a CLOSED window through the scope operator's SETTLEMENT account,
  all or nothing (a `DomainErrors` naming every short institution).
Amounts are minor units of the window's currency.
"""

from resolvers.settlement.obligations import open_window, record_obligations
from resolvers.settlement.settling import scope_operator, settle_window, settlement_transfers
from resolvers.settlement.windows import (
    Figures,
    Position,
    close_due,
    close_window,
    efficiency,
    figures_by_id,
    list_windows,
    live_positions,
    may_see_window,
    visible_positions,
    window_figures,
    window_positions,
)

__all__ = [
    "Figures",
    "Position",
    "close_due",
    "close_window",
    "efficiency",
    "figures_by_id",
    "list_windows",
    "live_positions",
    "may_see_window",
    "open_window",
    "record_obligations",
    "scope_operator",
    "settle_window",
    "settlement_transfers",
    "visible_positions",
    "window_figures",
    "window_positions",
]
