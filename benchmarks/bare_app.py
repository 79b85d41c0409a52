"""The yardstick for bench_api.py: a bare FastAPI endpoint doing one primary-key read and one
insert on the same database, with no authentication, policy or audit chain."""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import create_engine, text


class Probe(BaseModel):
    child_id: str


def create_bare_app() -> FastAPI:
    # The same pool size as the gateway's engine: a pool smaller than the concurrent
    # requests would open and close a connection on many of them.
    engine = create_engine(
        os.environ["EHE_INDEX_URL"].replace("postgresql://", "postgresql+psycopg://"),
        pool_size=int(os.environ.get("EHE_DB_POOL_SIZE", "20")),
        max_overflow=10,
    )
    app = FastAPI()

    @app.post("/bare")
    def bare(probe: Probe) -> dict[str, object]:
        with engine.begin() as conn:
            row = conn.execute(
                text("SELECT child_id, restricted FROM child WHERE child_id = :id"),
                {"id": probe.child_id},
            ).first()
            if row is None:
                raise HTTPException(404)
            conn.execute(
                text("INSERT INTO bench_bare_write (child_id) VALUES (:id)"), {"id": row[0]}
            )
        return {"child_id": row[0], "restricted": row[1]}

    return app
