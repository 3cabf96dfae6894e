"""Alembic migrations. `corridor migrate` (and `corridor serve`) apply them."""
