"""Backup → restore on PostgreSQL (pg_dump / pg_restore) with the project's real server."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from config import load_settings
from repository import Repository
from tests.interop.conftest import Builder
from tests.interop.test_preservation import snapshot
from tests.scaleout.conftest import pg_server, pg_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres


@pytest.fixture
def blank_pg_url(pg_server):  # noqa: F811
    """A new database with no tables at all (what `heritage restore` wants)."""
    name = f"heritage_restore_{uuid.uuid4().hex[:12]}"
    with pg_server.admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = pg_server.db_url(name)
    yield url
    pg_server.drop(url)


def test_backup_and_restore_on_postgresql(pg_url, blank_pg_url, tmp_path, monkeypatch):  # noqa: F811
    for key in ("HERITAGE_DATABASE_URL", "HERITAGE_DATA_DIR"):
        monkeypatch.delenv(key, raising=False)
    src_settings = load_settings(data_dir=tmp_path / "src", database_url=pg_url)
    repo = Repository.open(src_settings, create=True)
    build = Builder(repo, tmp_path)
    build.institution("gz-lib", "廣州圖書館")
    build.collection("newspapers", "民國報紙", "gz-lib")
    build.item("廣州嘅舊報紙", collection="newspapers", pages=["廣州城"])
    build.item("未公開", collection="newspapers", state="draft", pages=["秘密"])
    before = snapshot(repo)

    from repository.preservation.backup import backup, restore

    report = backup(repo, tmp_path / "bk")
    assert report.database == "postgresql" and not report.problems and (tmp_path / "bk" / "heritage.pgdump").is_file()
    repo.db.dispose()

    dest_settings = load_settings(data_dir=tmp_path / "dest", database_url=blank_pg_url)
    restored = restore(dest_settings, tmp_path / "bk")
    try:
        assert snapshot(restored) == before
        for sha, _ in before["blobs"]:
            assert restored.store.hash_of(sha) == sha
    finally:
        restored.db.dispose()
    # restoring again into the now non-empty database is refused
    from config import InvalidInput

    with pytest.raises(InvalidInput, match="not empty"):
        restore(load_settings(data_dir=tmp_path / "dest2", database_url=blank_pg_url), tmp_path / "bk")
