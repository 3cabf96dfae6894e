"""The migrations build exactly the tables the models declare, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models


async def test_migrated_database_matches_the_models(api):
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, models.metadata)

    async with api.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
