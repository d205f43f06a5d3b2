"""Shared fixtures: a fresh repository per test, the Flask app, the CLI, a live server, a browser.

Material comes from the real tools (Tesseract, ffmpeg, espeak-ng, Chromium, Elasticsearch);
nothing here is a mock.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from config import load_settings
from repository import Repository

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A free HTTP port whose transport port (+100) is free too, for an own Elasticsearch node
    started by scripts/elasticsearch.sh with PORT=…"""
    for _ in range(50):
        port = free_port()
        if port + 100 < 65535:
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port + 100))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port pair")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path, monkeypatch):
    """Settings for an isolated data dir; the environment is pointed at it for child processes."""
    monkeypatch.setenv("HERITAGE_DATA_DIR", str(data_dir))
    for key in list(os.environ):
        if key.startswith("HERITAGE_") and key not in ("HERITAGE_DATA_DIR", "HERITAGE_SEARCH",
                                                      "HERITAGE_ELASTICSEARCH_URL", "HERITAGE_DATABASE_URL"):
            monkeypatch.delenv(key)
    return load_settings()


@pytest.fixture
def repo(settings) -> Repository:
    r = Repository.open(settings, create=True)
    yield r
    r.db.dispose()


@pytest.fixture
def app(settings, repo):
    from web.app import create_app

    application = create_app(settings, repo)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_off(app):
    """For tests of form *logic* only; CSRF itself is tested with it on."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture
def cli(settings, capsys):
    """Run ``heritage ARGS…`` in-process against the test data dir; returns a CliResult."""
    from web.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def live_server(app):
    """The app served on 127.0.0.1:<free port> by a real threaded WSGI server; yields the base URL."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (headless, no network chatter)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed: run scripts/setup.sh")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-HK")
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data when this checkout sits beside it; tests using it skip otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout (generated material covers the same case)")
    return SHARED_DATA
