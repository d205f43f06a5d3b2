"""The public pages' queries (facet GROUP BY, NULLS LAST, JSON metadata) on a real PostgreSQL."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_client(data_dir, monkeypatch):
    from tests.scaleout.pg import PgServer, server_url

    url = server_url()
    if url is None:
        pytest.fail("no PostgreSQL: run `bash scripts/postgres.sh start` or set HERITAGE_TEST_POSTGRES_URL")
    server = PgServer(url)
    db_url = server.create()
    monkeypatch.setenv("HERITAGE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HERITAGE_DATABASE_URL", db_url)
    from config import load_settings
    from repository import Repository
    from web.app import create_app

    settings = load_settings()
    repo = Repository.open(settings, create=True)
    from tests.web.conftest import build_site

    site = build_site(repo)
    app = create_app(settings, repo)
    app.config.update(TESTING=True)
    yield app.test_client(), site
    repo.db.dispose()
    server.drop(db_url)
    server.dispose()


def test_public_pages_on_postgres(pg_client):
    client, site = pg_client
    home = client.get("/?lang=en")
    assert home.status_code == 200 and f'href="/items/{site.published}"' in home.get_data(as_text=True)
    coll = client.get(f"/collections/{site.collection}?lang=en&sort=new")
    html = coll.get_data(as_text=True)
    assert coll.status_code == 200 and "4 items" in html and 'id="facet-decade"' in html
    decade = client.get(f"/collections/{site.collection}?decade=1920&type=Text&lang=en").get_data(as_text=True)
    assert f'href="/items/{site.published}"' in decade and f'href="/items/{site.simplified}"' not in decade
    assert client.get(f"/collections/{site.collection}?sort=date").status_code == 200
    assert client.get(f"/items/{site.published}").status_code == 200
    assert client.get(f"/items/{site.draft}").status_code == 404
    assert client.get(f"/exhibits/{site.exhibit}").status_code == 200
