"""Database engine and sessions; migrations with Alembic."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config import ConfigError, Unavailable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _reason(exc: BaseException | None) -> str:
    text = str(exc or "").strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unavailable_when_unreachable(context) -> None:
    """``handle_error`` hook: a lost or refused database connection becomes :class:`Unavailable`
    (503 on the web, one line in the CLI) instead of a raw driver error and a 500.

    Pre-ping failures are left alone so the pool can quietly replace dead connections after a
    database restart; the pool is still invalidated by SQLAlchemy for real disconnects.
    """
    if context.is_pre_ping:
        return None
    failed_to_connect = context.connection is None and isinstance(context.sqlalchemy_exception, OperationalError)
    if context.is_disconnect or failed_to_connect:
        url = context.engine.url.render_as_string(hide_password=True) if context.engine is not None else "?"
        raise Unavailable(f"database unreachable at {url}: {_reason(context.original_exception)}; "
                          f"try again in a moment")
    return None


class Database:
    """An engine plus a session factory for one database URL."""

    def __init__(self, url: str):
        self.url = url
        try:
            if url.startswith("sqlite"):
                self.engine: Engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                            connect_args={"connect_timeout": 10})
                event.listen(self.engine, "handle_error", _unavailable_when_unreachable)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise ConfigError(f"HERITAGE_DATABASE_URL: cannot use {url!r} ({exc})") from None
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        return self.sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any exception."""
        with self.sessionmaker.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise :class:`Unavailable` with a one-line reason when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("select 1"))
        except Unavailable:
            raise
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise Unavailable(f"database unreachable at {self.engine.url.render_as_string(hide_password=True)}: {reason}") from None

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("alembic_version")

    def alembic_config(self):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from alembic import command

        self.ping()
        command.upgrade(self.alembic_config(), "head")

    def dispose(self) -> None:
        self.engine.dispose()
