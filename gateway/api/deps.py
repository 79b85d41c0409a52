"""Dependencies shared by the API's routers: a database session per request."""

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker


def database(request: Request) -> Iterator[Session]:
    """One session per request, from the factory ``create_app`` put on ``app.state``."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session
