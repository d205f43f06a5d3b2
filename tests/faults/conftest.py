"""Fixtures of the fault suite; prints the table of figures at the end of the run."""
from __future__ import annotations

import pytest


def pytest_configure(config):
    from tests.faults import figures

    figures.register(config)


@pytest.fixture
def record_figure(request):
    """record_figure(name, value): a line in the summary table at the end of the run."""
    from tests.faults import figures

    return figures.make_recorder(request)


# ---- shared environment of the fault suite ------------------------------------------------------
import os  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def materials(tmp_path_factory):
    """Valid originals made with the real tools, to be broken by each hostile case."""
    from tests.faults.hostile import Materials

    return Materials(tmp_path_factory.mktemp("materials"))


@pytest.fixture(scope="session")
def hostile_bytes(materials):
    """case id -> bytes (each made once: the decompression bomb takes a moment)."""
    cache: dict[str, bytes] = {}

    def get(case) -> bytes:
        if case.id not in cache:
            cache[case.id] = case.make(materials)
        return cache[case.id]

    return get


@dataclass
class FaultEnv:
    """One data directory with two institutions, their collections and staff."""

    data_dir: Path
    settings: object
    repo: object


def isolated_env(mp: pytest.MonkeyPatch, data_dir: Path, **extra: str) -> None:
    for key in list(os.environ):
        if key.startswith("HERITAGE_") and key not in ("HERITAGE_SEARCH", "HERITAGE_ELASTICSEARCH_URL",
                                                      "HERITAGE_TEST_POSTGRES_URL",
                                                      "HERITAGE_TEST_ELASTICSEARCH_URL"):
            mp.delenv(key)
    mp.setenv("HERITAGE_DATA_DIR", str(data_dir))
    for k, v in extra.items():
        mp.setenv(k, v)


def build_env(data_dir: Path, **settings_overrides) -> FaultEnv:
    from config import load_settings
    from repository import Repository, catalog

    settings = load_settings(**settings_overrides)
    repo = Repository.open(settings, create=True)
    with repo.unit_of_work("test") as uow:
        s = uow.session
        catalog.add_institution(s, "gz", "廣州圖書館")
        catalog.add_institution(s, "fs", "佛山圖書館")
        catalog.add_collection(s, "c", "廣州文獻", institution_slug="gz")
        catalog.add_collection(s, "other", "佛山文獻", institution_slug="fs")
        catalog.add_user(s, "mei", PASSWORD, "archivist", "gz")
        catalog.add_user(s, "wing", PASSWORD, "archivist", "fs")
        catalog.add_user(s, "boss", PASSWORD, "admin", None)
    return FaultEnv(data_dir, settings, repo)


@pytest.fixture(scope="module")
def fault_env(tmp_path_factory):
    """A module-wide data dir (SQLite) with institutions gz/fs, collections c/other, staff."""
    data_dir = tmp_path_factory.mktemp("fault-data")
    with pytest.MonkeyPatch.context() as mp:
        isolated_env(mp, data_dir, HERITAGE_MAX_UPLOAD_BYTES=str(8 * 1024 * 1024))
        env = build_env(data_dir)
        yield env
        env.repo.db.dispose()


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``heritage ARGS`` in this process (the real CLI entry point); (exit code, stdout, stderr)."""
    from web.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- a live server and a logged-in staff session ------------------------------------------------
class LiveServer:
    """The app on 127.0.0.1:<free port>, served by a real threaded WSGI server."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        from tests.conftest import free_port

        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


CSRF_RE = re.compile(r'name="csrf[-_]token"\s+(?:content|value)="([^"]+)"|(?:content|value)="([^"]+)"\s+name="csrf[-_]token"')


def csrf_token(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1) or m.group(2)


def login(base_url: str, name: str, password: str = PASSWORD):
    """A requests.Session logged in as ``name`` through the real login form (CSRF on)."""
    import requests

    s = requests.Session()
    r = s.get(f"{base_url}/admin/login", timeout=30)
    assert r.status_code == 200, r.status_code
    r = s.post(f"{base_url}/admin/login", data={"csrf_token": csrf_token(r.text), "name": name,
                                                  "password": password}, timeout=30, allow_redirects=False)
    assert r.status_code in (302, 303), f"login as {name} failed: {r.status_code}"
    return s


def healthy(base_url: str) -> bool:
    import requests

    try:
        return requests.get(f"{base_url}/healthz", timeout=10).status_code == 200
    except requests.RequestException:
        return False


def pipeline_available(stage: str) -> bool:
    """Is the ingest pipeline this hostile case reaches in the tree yet?"""
    import importlib.util

    need = {"scan": ["ingest.scan"], "media": ["ingest.av"], "sniff": ["ingest.av"]}[stage]
    return all(importlib.util.find_spec(n) is not None for n in need)


@pytest.fixture
def count_case(request):
    """count_case(family): counts this test in the summary table under ``family``."""
    from tests.faults import figures

    return figures.make_counter(request)
