"""Fixtures for scale-out mode: the project-started PostgreSQL (a fresh database per test)."""
from __future__ import annotations

import os

import pytest

from config import load_settings
from tests.scaleout.pg import PgServer, server_url


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL server of scripts/postgres.sh ($HERITAGE_TEST_POSTGRES_URL in CI)."""
    url = server_url()
    if url is None:
        pytest.fail("no PostgreSQL: run `bash scripts/postgres.sh start` (needs Debian postgresql) "
                    "or set HERITAGE_TEST_POSTGRES_URL")
    server = PgServer(url)
    yield server
    server.dispose()


@pytest.fixture
def pg_url(pg_server):
    """URL of a fresh, migrated, empty database, dropped after the test."""
    url = pg_server.create()
    yield url
    pg_server.drop(url)


def settings_for(data_dir, monkeypatch, database_url: str | None):
    """Settings for ``data_dir`` on ``database_url`` (None: SQLite), exported for child processes."""
    monkeypatch.setenv("HERITAGE_DATA_DIR", str(data_dir))
    for key in list(os.environ):
        if key.startswith("HERITAGE_") and key not in ("HERITAGE_DATA_DIR", "HERITAGE_SEARCH",
                                                      "HERITAGE_ELASTICSEARCH_URL",
                                                      "HERITAGE_TEST_POSTGRES_URL",
                                                      "HERITAGE_TEST_ELASTICSEARCH_URL"):
            monkeypatch.delenv(key)
    if database_url:
        monkeypatch.setenv("HERITAGE_DATABASE_URL", database_url)
    return load_settings()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_settings(request, data_dir, monkeypatch):
    """Settings on SQLite, then on a fresh PostgreSQL database."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    return settings_for(data_dir, monkeypatch, url)


def pytest_configure(config):
    from tests.faults import figures

    figures.register(config)


@pytest.fixture
def record_figure(request):
    """record_figure(name, value): a line in the summary table at the end of the run."""
    from tests.faults import figures

    return figures.make_recorder(request)
