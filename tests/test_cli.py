"""The heritage CLI: every bad input is a one-line reason and a non-zero exit, nothing half-written."""
import subprocess
import sys

import pytest
from sqlalchemy import select

from repository.models import Collection


def test_init_then_add_institution_collection_and_user(cli, monkeypatch):
    assert cli("init").code == 0
    assert cli("institution", "add", "gzlib", "--name", "廣州圖書館").out.strip() == "gzlib"
    assert cli("collection", "add", "oral", "--title", "口述史", "--institution", "gzlib").code == 0
    monkeypatch.setenv("HERITAGE_NEW_PASSWORD", "correct horse battery")
    r = cli("user", "add", "mei", "--role", "archivist", "--institution", "gzlib")
    assert r.code == 0 and r.out.strip() == "mei"


@pytest.mark.parametrize("args, reason", [
    (["collection", "add", "x", "--title", "t", "--institution", "nowhere"], "no institution 'nowhere'"),
    (["collection", "add", "Not A Slug", "--title", "t"], "lower-case letters"),
    (["no-such-verb"], "No such command"),
    (["serve", "--port", "http"], "--port"),
    (["user", "add", "x", "--role", "god"], "--role"),
])
def test_bad_arguments_give_one_line_and_non_zero_exit(cli, args, reason):
    cli("init")
    r = cli(*args)
    assert r.code != 0
    assert reason in r.err
    assert len(r.err.strip().splitlines()) == 1, r.err


def test_an_unknown_collection_leaves_nothing_behind(cli, repo):
    cli("init")
    r = cli("collection", "add", "c1", "--title", "C", "--institution", "ghost")
    assert r.code == 1
    with repo.session() as s:
        assert s.scalars(select(Collection)).all() == []


def test_verbs_have_help(cli):
    for verb in (["init"], ["serve"], ["worker"], ["demo"], ["user", "add"], ["collection", "add"]):
        r = cli(*verb, "--help")
        assert r.code == 0 and "Usage:" in r.out


def run(args, env):
    return subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, capture_output=True, text=True)


def test_unwritable_data_directory_is_a_one_line_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    # root may write anywhere; use a path under a regular file to make it unwritable for everyone
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"PATH": "/usr/bin:/bin", "HERITAGE_DATA_DIR": str(blocker / "data")}
    r = run(["init"], env)
    assert r.returncode == 1
    assert r.stderr.startswith("heritage: HERITAGE_DATA_DIR: cannot create")
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("url, reason", [
    ("not-a-url", "HERITAGE_DATABASE_URL"),
    ("postgresql://nobody@127.0.0.1:1/none", "database unreachable"),
])
def test_corrupt_or_unreachable_database_url(tmp_path, url, reason):
    env = {"PATH": "/usr/bin:/bin", "HERITAGE_DATA_DIR": str(tmp_path / "d"), "HERITAGE_DATABASE_URL": url}
    r = run(["init"], env)
    assert r.returncode == 1
    assert reason in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_missing_data_directory_before_init(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HERITAGE_DATA_DIR": str(tmp_path / "never")}
    r = run(["collection", "add", "a", "--title", "b"], env)
    assert r.returncode == 1 and "heritage init" in r.stderr
    assert not (tmp_path / "never").exists()


def test_search_with_the_cluster_down_is_one_line(tmp_path):
    """Library log records do not add lines to a one-shot verb's one-line reason."""
    from tests.conftest import free_port

    env = {"PATH": "/usr/bin:/bin", "HERITAGE_DATA_DIR": str(tmp_path / "d")}
    assert run(["init"], env).returncode == 0
    env |= {"HERITAGE_SEARCH": "elasticsearch", "HERITAGE_ELASTICSEARCH_URL": f"http://127.0.0.1:{free_port()}"}
    r = run(["search", "廣州"], env)
    assert r.returncode == 1
    assert r.stderr.startswith("heritage: Search is temporarily unavailable")
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
