"""The project-started PostgreSQL server (scripts/postgres.sh) as a test resource.

:class:`PgServer` hands out a fresh database per test, copied from a template database that
is migrated once per schema head (``CREATE DATABASE … TEMPLATE``: a file copy, ~50 ms), and
drops it afterwards. Safe with ``pytest -n 2``: creation of the template and of each copy is
serialised with a PostgreSQL advisory lock.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres.sh"
ENV = "HERITAGE_TEST_POSTGRES_URL"
_LOCK_KEY = 7_007_007  # advisory lock id for template/copy creation


def server_url(start: bool = True) -> str | None:
    """$HERITAGE_TEST_POSTGRES_URL, else the URL of scripts/postgres.sh (started if needed)."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    if not SCRIPT.exists() or not start:
        return None
    r = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None
    url = r.stdout.strip().splitlines()[-1]
    os.environ[ENV] = url  # child processes and later fixtures reuse it
    return url


def schema_heads() -> str:
    """The Alembic head revision(s) of the migrations in this checkout."""
    from alembic.script import ScriptDirectory
    from alembic.config import Config

    from repository.db import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return "-".join(sorted(ScriptDirectory.from_config(cfg).get_heads()))


class PgServer:
    """Fresh databases on one PostgreSQL server."""

    def __init__(self, url: str):
        self.url: URL = make_url(url)
        self.admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                                   pool_size=1, max_overflow=2)

    def db_url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def _exists(self, conn, name: str) -> bool:
        return conn.execute(text("select 1 from pg_database where datname = :n"), {"n": name}).first() is not None

    def template(self) -> str:
        """Name of a template database migrated to the current schema head (made once)."""
        from repository.db import Database

        name = "heritage_tpl_" + hashlib.sha1(schema_heads().encode()).hexdigest()[:12]
        with self.admin.connect() as conn:
            conn.execute(text("select pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            try:
                if not self._exists(conn, name):
                    building = name + "_building"
                    conn.execute(text(f'drop database if exists "{building}" with (force)'))
                    conn.execute(text(f'create database "{building}"'))
                    db = Database(self.db_url(building))
                    try:
                        db.migrate()
                    finally:
                        db.dispose()
                    conn.execute(text(f'alter database "{building}" rename to "{name}"'))
            finally:
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
        return name

    def create(self, prefix: str = "t") -> str:
        """A new, migrated, empty database; returns its URL.

        The cluster of scripts/postgres.sh is shared by every test run on the machine, and
        `scripts/test.sh` stops it when it ends; if it went away, start it again (once).
        """
        from sqlalchemy.exc import OperationalError

        from config import Unavailable

        try:
            return self._create(prefix)
        except (OperationalError, Unavailable):
            if not SCRIPT.exists():
                raise
            subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=120)
            self.admin.dispose()
            return self._create(prefix)

    def _create(self, prefix: str) -> str:
        template = self.template()
        name = f"heritage_{prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text("select pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            try:
                conn.execute(text(f'create database "{name}" template "{template}"'))
            finally:
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
        return self.db_url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))

    def dispose(self) -> None:
        self.admin.dispose()
