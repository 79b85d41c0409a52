"""The yardstick for bench_api.py: the fastest bare stack doing what a child summary does at
the database, and nothing else: an async FastAPI endpoint on the event loop, a psycopg async
pool of autocommit connections, and one statement that reads the child by primary key and
inserts a row (``WITH ... INSERT ... SELECT``), one round trip. No authentication, policy,
records, JSON parsing or audit chain: what the gateway adds is measured against this."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel
from sqlalchemy.engine import make_url

READ_AND_INSERT = """
WITH found AS (SELECT child_id, restricted FROM child WHERE child_id = %(id)s),
written AS (INSERT INTO bench_bare_write (child_id) SELECT child_id FROM found)
SELECT child_id, restricted FROM found
"""


class Probe(BaseModel):
    child_id: str


def create_bare_app() -> FastAPI:
    url = make_url(os.environ["EHE_INDEX_URL"]).set(drivername="postgresql")
    # The same pool size as the gateway's lookups.
    pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
        url.render_as_string(hide_password=False),
        min_size=1,
        max_size=int(os.environ.get("EHE_DB_POOL_SIZE", "20")),
        open=False,
        kwargs={"autocommit": True},
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open()
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/bare")
    async def bare(probe: Probe) -> dict[str, object]:
        async with pool.connection() as conn:
            row = await (await conn.execute(READ_AND_INSERT, {"id": probe.child_id})).fetchone()
        if row is None:
            raise HTTPException(404)
        return {"child_id": row[0], "restricted": row[1]}

    return app
