"""Migrations build the whole schema on an empty database of each kind, agree with the
models (nothing left for autogenerate), and downgrade cleanly."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.migrate import downgrade, upgrade
from domain.registry import metadata
from tests.support import drop_pg_database, new_pg_database, pg_reachable, service_missing


def _diff(sync_conn):
    ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return compare_metadata(ctx, metadata)


async def _assert_no_drift(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(_diff)
    finally:
        await engine.dispose()
    assert diffs == [], f"models and migrations disagree: {diffs}"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_upgrade_head_matches_models_then_downgrade(kind):
    if kind == "postgres":
        if not await pg_reachable():
            service_missing("PostgreSQL", "start PostgreSQL on 127.0.0.1:5432")
        url = await new_pg_database("linli_migr")
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'm.db'}"
    try:
        await asyncio.to_thread(upgrade, url)
        await _assert_no_drift(url)
        await asyncio.to_thread(downgrade, url, "base")
        await asyncio.to_thread(upgrade, url)
    finally:
        if kind == "postgres":
            await drop_pg_database(url)


def test_one_head():
    """Revisions form one chain. Capabilities built side by side each start from the
    head they saw; whoever lands second re-points its revision's down_revision at the
    head it merged, so `make migration` and a reader of the history see one line."""
    from alembic.script import ScriptDirectory

    from api.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: re-point yours at main's"
