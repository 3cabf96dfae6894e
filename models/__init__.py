"""SQLModel tables, one module per domain. Importing this package registers them all."""

from sqlmodel import SQLModel

from models import access, analytics, cards, fx, ledger, messaging, reference, settlement  # noqa: F401  (register the tables)

metadata = SQLModel.metadata
