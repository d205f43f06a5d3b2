"""The foundation and repository tests, run again on PostgreSQL.

The test functions of the foundation modules are imported here so pytest collects them a
second time in this module, where ``settings`` points at a fresh database on the
project-started PostgreSQL (scripts/postgres.sh) instead of SQLite.
"""
from __future__ import annotations

import pytest

from tests.scaleout.conftest import settings_for
from tests.test_cli import *  # noqa: F401,F403
from tests.test_migrations import *  # noqa: F401,F403
from tests.test_models import *  # noqa: F401,F403
from tests.test_store import *  # noqa: F401,F403
from tests.test_web_core import *  # noqa: F401,F403

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(data_dir, monkeypatch, pg_url):
    """Overrides tests/conftest.py: the same data dir, but the database is PostgreSQL."""
    return settings_for(data_dir, monkeypatch, pg_url)


def test_these_tests_really_run_on_postgresql(repo):
    assert repo.db.engine.dialect.name == "postgresql"
    assert not repo.db.is_sqlite
