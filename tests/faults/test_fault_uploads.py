"""Hostile uploads through every entry point: `heritage ingest`, the admin upload endpoint (over
real HTTP, CSRF on) and `heritage import-csv`.

Each case must end in a clear message naming the file, a 4xx (web) or non-zero exit (CLI), no
partial item, no orphan object, no temp file left, and (web) the server still serving.
"""
from __future__ import annotations

import io

import pytest

from tests.faults.conftest import LiveServer, csrf_token, healthy, login, pipeline_available, run_cli
from tests.faults.hostile import FILE_CASES, FileCase
from tests.faults.invariants import assert_clear_message, assert_nothing_left, snapshot

CASES = [pytest.param(c, id=c.id) for c in FILE_CASES]


def _need(case: FileCase) -> None:
    if not pipeline_available(case.stage):
        pytest.skip(f"the {case.stage} ingest pipeline has not landed in this tree")


# ---- heritage ingest ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_hostile_file_via_cli_ingest(case, fault_env, hostile_bytes, tmp_path, capsys, count_case):
    count_case("hostile uploads: heritage ingest")
    _need(case)
    path = tmp_path / case.filename
    path.write_bytes(hostile_bytes(case))
    before = snapshot(fault_env.repo)
    code, out, err = run_cli(capsys, "ingest", str(path), "--collection", "c")
    assert code != 0, f"accepted a hostile file: {out!r}"
    assert out.strip() == "", "printed an item id for a refused file"
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("heritage")
    assert_clear_message(err.replace(str(path), case.filename).replace(str(tmp_path), ""), names=(case.filename,))
    assert_nothing_left(fault_env.repo, before)


@pytest.mark.parametrize("args, says", [
    pytest.param(["ingest", "{good}", "--collection", "c", "--title", "標" * 1001], "title", id="title-too-long"),
    pytest.param(["ingest", "{good}", "--collection", "c", "--title", "bell\x07here"], "control", id="title-control-char"),
    pytest.param(["ingest", "{good}", "--collection", "c", "--lang", "klingon"], "HERITAGE_OCR_LANGUAGES",
                 id="bad-ocr-language"),
    pytest.param(["ingest", "{good}", "--collection", "nowhere"], "no collection", id="unknown-collection"),
    pytest.param(["ingest", "{missing}", "--collection", "c"], "no such file", id="missing-file"),
    pytest.param(["ingest", "{dotdot}", "--collection", "c"], "..", id="dotdot-path"),
    pytest.param(["ingest", "{ctrl}", "--collection", "c"], "control characters", id="control-char-filename"),
    pytest.param(["ingest", "{emptydir}", "--collection", "c"], "no files", id="empty-directory"),
    pytest.param(["ingest", "{good}", "{zero}", "--collection", "c"], "empty", id="one-bad-of-two-paths"),
])
def test_bad_cli_arguments(args, says, fault_env, materials, tmp_path, capsys, count_case):
    count_case("hostile uploads: heritage ingest")
    good = tmp_path / "good.wav"
    good.write_bytes(materials.wav)
    zero = tmp_path / "zero.wav"
    zero.write_bytes(b"")
    (tmp_path / "emptydir").mkdir()
    ctrl = tmp_path / "bad\nname.wav"
    ctrl.write_bytes(materials.wav)
    subs = {"{good}": str(good), "{zero}": str(zero), "{missing}": str(tmp_path / "nope.jpg"),
            "{dotdot}": str(tmp_path / "x" / ".." / "good.wav"), "{ctrl}": str(ctrl),
            "{emptydir}": str(tmp_path / "emptydir")}
    before = snapshot(fault_env.repo)
    code, out, err = run_cli(capsys, *[subs.get(a, a) for a in args])
    assert code != 0 and out.strip() == ""
    assert says in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert_nothing_left(fault_env.repo, before)


# ---- admin upload over HTTP --------------------------------------------------------------------
@pytest.fixture(scope="module")
def web(fault_env):
    from web.app import create_app

    app = create_app(fault_env.settings, fault_env.repo)
    server = LiveServer(app)
    session = login(server.url, "mei")
    page = session.get(f"{server.url}/admin/upload", timeout=30)
    assert page.status_code == 200
    yield server, session, csrf_token(page.text)
    server.stop()


def post_upload(web, filename: str, data: bytes, **fields):
    server, session, token = web
    form = {"csrf_token": token, "collection": "c", **fields}
    return session.post(f"{server.url}/admin/upload/file", data=form,
                        files={"file": (filename, io.BytesIO(data), "application/octet-stream")}, timeout=120)


@pytest.mark.parametrize("case", CASES)
def test_hostile_file_via_admin_upload(case, fault_env, web, hostile_bytes, count_case):
    count_case("hostile uploads: admin upload (HTTP)")
    _need(case)
    before = snapshot(fault_env.repo)
    r = post_upload(web, case.filename, hostile_bytes(case))
    assert 400 <= r.status_code < 500, f"{r.status_code}: {r.text[:300]}"
    body = r.json()
    assert_clear_message(body["error"], names=(case.filename,))
    assert healthy(web[0].url)
    assert_nothing_left(fault_env.repo, before)


def test_admin_upload_with_wrong_csrf_token_is_refused(fault_env, web, materials, count_case):
    count_case("hostile uploads: admin upload (HTTP)")
    server, session, _ = web
    before = snapshot(fault_env.repo)
    for token in ("forged-token", ""):
        r = session.post(f"{server.url}/admin/upload/file", data={"csrf_token": token, "collection": "c"},
                         files={"file": ("a.wav", io.BytesIO(materials.wav), "audio/wav")}, timeout=60)
        assert r.status_code == 400, r.status_code
        assert "Traceback" not in r.text
    assert healthy(server.url)
    assert_nothing_left(fault_env.repo, before)


def test_admin_upload_from_another_site_without_session_is_refused(fault_env, web, materials, count_case):
    import requests

    count_case("hostile uploads: admin upload (HTTP)")
    server, _, token = web
    before = snapshot(fault_env.repo)
    r = requests.post(f"{server.url}/admin/upload/file", data={"csrf_token": token, "collection": "c"},
                      files={"file": ("a.wav", io.BytesIO(materials.wav), "audio/wav")}, timeout=60,
                      allow_redirects=False)
    assert r.status_code in (302, 303, 400, 401, 403), r.status_code
    assert_nothing_left(fault_env.repo, before)


def test_oversized_upload_is_413_and_the_server_keeps_serving(fault_env, web, count_case):
    count_case("hostile uploads: admin upload (HTTP)")
    before = snapshot(fault_env.repo)
    r = post_upload(web, "huge.wav", b"\x00" * (9 * 1024 * 1024))  # limit is 8 MB in this module
    assert r.status_code == 413, r.status_code
    assert "Traceback" not in r.text and "MB" in r.text
    assert healthy(web[0].url)
    assert_nothing_left(fault_env.repo, before)


@pytest.mark.parametrize("fields, field", [
    pytest.param({"title": "標" * 1001}, "title", id="title-too-long"),
    pytest.param({"title": "bad\x01title"}, "title", id="title-control-char"),
    pytest.param({"collection": "other"}, "collection", id="other-institutions-collection"),
    pytest.param({"collection": "<script>alert(1)</script>"}, "collection", id="script-as-collection"),
    pytest.param({"lang": "klingon"}, "lang", id="bad-ocr-language"),
])
def test_bad_upload_form_fields(fields, field, fault_env, web, materials, count_case):
    count_case("hostile uploads: admin upload (HTTP)")
    before = snapshot(fault_env.repo)
    r = post_upload(web, "a.wav", materials.wav, **fields)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    body = r.json()
    assert body.get("field") == field, body
    assert_clear_message(body["error"])
    assert "<script>" not in r.text
    assert_nothing_left(fault_env.repo, before)


# ---- heritage import-csv -----------------------------------------------------------------------
def write_batch(tmp_path, csv_text: str | bytes, files: dict[str, bytes]) -> tuple[str, str]:
    d = tmp_path / "files"
    d.mkdir(exist_ok=True)
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    csv_path = tmp_path / "rows.csv"
    csv_path.write_bytes(csv_text if isinstance(csv_text, bytes) else csv_text.encode("utf-8"))
    return str(csv_path), str(d)


@pytest.mark.parametrize("case", CASES)
def test_hostile_file_via_import_csv(case, fault_env, hostile_bytes, materials, tmp_path, capsys, count_case):
    count_case("hostile uploads: heritage import-csv")
    _need(case)
    # a good row beside the bad one: the whole batch is refused, the good row is not ingested either
    csv_path, files = write_batch(tmp_path, f"file,title,collection\ngood.wav,好,c\n{case.filename},壞,c\n",
                                  {"good.wav": materials.wav, case.filename: hostile_bytes(case)})
    before = snapshot(fault_env.repo)
    code, out, err = run_cli(capsys, "import-csv", csv_path, "--files", files)
    assert code != 0
    assert out.strip() == ""
    assert_clear_message(err.replace(files, "").replace(str(tmp_path), ""), names=(case.filename,))
    assert_nothing_left(fault_env.repo, before)


BAD_CSV = [
    pytest.param("file,title\na.wav,\"=cmd|' /C calc'!A0\"\n", "formula", id="formula-equals-cmd"),
    pytest.param("file,title\na.wav,+SUM(1+1)\n", "formula", id="formula-plus"),
    pytest.param("file,title\na.wav,@SUM(A1)\n", "formula", id="formula-at"),
    pytest.param("file,title\na.wav,-2+3+cmd|' /C calc'!A0\n", "formula", id="formula-minus"),
    pytest.param("file,creator\na.wav,\uff1dHYPERLINK(\"http://evil\")\n", "formula", id="formula-fullwidth"),
    pytest.param("file,title\na.wav,\"\ttab-led\"\n", "formula", id="formula-tab"),
    pytest.param(b"file,title\na.wav,\xff\xfe\x00\xd8\x00\xdc\xff\xff\x80\x81\n", "encoding", id="non-utf8-garbage"),
    pytest.param("file,title\n../../etc/passwd,x\n", "..", id="dotdot-file"),
    pytest.param("file,title\n/etc/passwd,x\n", "absolute", id="absolute-file"),
    pytest.param("file,title\nmissing.wav,x\n", "no such file", id="missing-file"),
    pytest.param("file,title\na.wav," + "長" * 1001 + "\n", "longer than", id="title-too-long"),
    pytest.param("file,title\na.wav,bad\x07bell\n", "control", id="control-char"),
    pytest.param("file,colour\na.wav,red\n", "not known", id="unknown-column"),
    pytest.param("title\nno file column\n", "file", id="no-file-column"),
    pytest.param("file,collection\na.wav,other-nowhere\n", "no collection", id="unknown-collection"),
    pytest.param("file,publish\na.wav,perhaps\n", "yes or no", id="bad-boolean"),
    pytest.param("", "empty", id="empty-csv"),
]


@pytest.mark.parametrize("csv_text, says", BAD_CSV)
def test_hostile_csv(csv_text, says, fault_env, materials, tmp_path, capsys, count_case):
    count_case("hostile uploads: heritage import-csv")
    csv_path, files = write_batch(tmp_path, csv_text, {"a.wav": materials.wav})
    before = snapshot(fault_env.repo)
    code, out, err = run_cli(capsys, "import-csv", csv_path, "--files", files, "--collection", "c")
    assert code != 0, err
    assert out.strip() == ""
    assert says.lower() in err.lower(), err
    assert_clear_message(err.replace(files, "").replace(str(tmp_path), ""))
    assert_nothing_left(fault_env.repo, before)


def _zip(members: list[tuple[str, bytes]], symlink: str | None = None) -> bytes:
    import stat
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize("members, symlink, says", [
    pytest.param([("../evil.wav", b"x")], None, "..", id="zip-slip-dotdot"),
    pytest.param([("ok/../../evil.wav", b"x")], None, "..", id="zip-slip-nested"),
    pytest.param([("/etc/evil.wav", b"x")], None, "absolute", id="zip-absolute-path"),
    pytest.param([("C:/Windows/evil.wav", b"x")], None, "absolute", id="zip-windows-drive"),
    pytest.param([("a.wav", b"x")], "link.wav", "symbolic link", id="zip-symlink"),
    pytest.param([("a.wav", b"\x00" * (20 * 1024 * 1024))], None, "MB", id="zip-bomb-over-limit"),
    pytest.param("notazip", None, "not a valid zip", id="not-a-zip"),
])
def test_hostile_batch_zip(members, symlink, says, fault_env, tmp_path, capsys, count_case):
    count_case("hostile uploads: heritage import-csv")
    z = tmp_path / "files.zip"
    z.write_bytes(b"PK\x03\x04 not really" if members == "notazip" else _zip(members, symlink))
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text("file,title\na.wav,x\n", encoding="utf-8")
    before = snapshot(fault_env.repo)
    outside = set((tmp_path.parent).iterdir())
    code, out, err = run_cli(capsys, "import-csv", str(csv_path), "--files", str(z), "--collection", "c")
    assert code != 0 and out.strip() == ""
    assert says in err, err
    assert_clear_message(err.replace(str(tmp_path), ""))
    assert not (tmp_path / "evil.wav").exists() and not (tmp_path.parent / "evil.wav").exists()
    assert set(tmp_path.parent.iterdir()) == outside, "something was written outside the extraction folder"
    assert_nothing_left(fault_env.repo, before)


# ---- positive controls: the same entry points do accept a good file -------------------------------
def test_control_good_recording_is_accepted_by_every_entry_point(fault_env, web, materials, tmp_path, capsys):
    """Guards the refusals above against passing for the wrong reason (a broken entry point)."""
    from repository.models import Item

    good = tmp_path / "粵語錄音.wav"
    good.write_bytes(materials.wav)
    code, out, err = run_cli(capsys, "ingest", str(good), "--collection", "c")
    assert code == 0, err
    ids = [int(out.strip())]
    r = post_upload(web, "粵語錄音.wav", materials.wav)
    assert r.status_code == 201, r.text[:300]
    ids.append(r.json()["item"])
    csv_path, files = write_batch(tmp_path, "file,title\n粵語錄音.wav,口述歷史\n", {"粵語錄音.wav": materials.wav})
    code, out, err = run_cli(capsys, "import-csv", csv_path, "--files", files, "--collection", "c")
    assert code == 0, err
    ids.append(int(out.strip().splitlines()[-1]))
    with fault_env.repo.session() as s:
        items = [s.get(Item, i) for i in ids]
        assert all(i is not None and i.state == "processing" for i in items)


# ---- the admin CSV batch page over HTTP ------------------------------------------------------------
# The same hostile CSVs and zips as `heritage import-csv`, sent through the browser form: the dry-run
# step must answer 4xx with the problem in the page, ingest nothing, and (when the upload itself is
# refused) leave no temp folder; a batch whose rows have problems cannot be run as a whole.
def post_batch(web, csv_bytes: bytes, *, archive: bytes | None = None, files: dict[str, bytes] | None = None):
    server, session, token = web
    upload = [("csv", ("rows.csv", io.BytesIO(csv_bytes), "text/csv"))]
    if archive is not None:
        upload.append(("archive", ("files.zip", io.BytesIO(archive), "application/zip")))
    for name, data in (files or {}).items():
        upload.append(("files", (name, io.BytesIO(data), "application/octet-stream")))
    return session.post(f"{server.url}/admin/batch?lang=en", data={"csrf_token": token, "collection": "c"},
                        files=upload, timeout=120)


def _batch_dirs(repo) -> set[str]:
    return {p.name for p in (repo.settings.data_dir / "tmp").glob("batch-*")}


@pytest.mark.parametrize("csv_text, says", BAD_CSV)
def test_hostile_csv_via_admin_batch_page(csv_text, says, fault_env, web, materials, count_case):
    import html

    count_case("hostile uploads: admin CSV batch page (HTTP)")
    server, session, token = web
    before, dirs = snapshot(fault_env.repo), _batch_dirs(fault_env.repo)
    body = csv_text if isinstance(csv_text, bytes) else csv_text.encode("utf-8")
    r = post_batch(web, body, files={"a.wav": materials.wav})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    text = html.unescape(r.text)
    assert says.lower() in text.lower(), text[-2000:]
    assert "Nothing has been ingested" in text or r.status_code == 400
    new = _batch_dirs(fault_env.repo) - dirs
    if r.status_code == 400:  # the upload itself was refused: its folder is gone
        assert not new
    else:  # 422: a dry-run report was shown; running the batch as a whole is refused
        (work,) = new
        run = session.post(f"{server.url}/admin/batch/{work.removeprefix('batch-')}/run?lang=en",
                           data={"csrf_token": token}, timeout=120)
        assert run.status_code == 400, run.status_code
        assert "Traceback" not in run.text
    assert healthy(server.url)
    after = snapshot(fault_env.repo)
    assert after.counts == before.counts and after.objects == before.objects


@pytest.mark.parametrize("members, symlink, says", [
    pytest.param([("../evil.wav", b"x")], None, "..", id="zip-slip-dotdot"),
    pytest.param([("/etc/evil.wav", b"x")], None, "absolute", id="zip-absolute-path"),
    pytest.param([("a.wav", b"x")], "link.wav", "symbolic link", id="zip-symlink"),
    pytest.param([("a.wav", b"\x00" * (20 * 1024 * 1024))], None, "MB", id="zip-bomb-over-limit"),
    pytest.param("notazip", None, "not a valid zip", id="not-a-zip"),
])
def test_hostile_zip_via_admin_batch_page(members, symlink, says, fault_env, web, count_case):
    import html

    count_case("hostile uploads: admin CSV batch page (HTTP)")
    before = snapshot(fault_env.repo)
    archive = b"PK\x03\x04 not really" if members == "notazip" else _zip(members, symlink)
    r = post_batch(web, b"file,title\na.wav,x\n", archive=archive)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert says in html.unescape(r.text)
    assert "Traceback" not in r.text
    assert healthy(web[0].url)
    assert_nothing_left(fault_env.repo, before)
    data = fault_env.repo.settings.data_dir
    assert not list(data.rglob("evil.wav")) and not (data.parent / "evil.wav").exists()


def test_admin_batch_page_without_csrf_token_is_refused(fault_env, web, materials, count_case):
    count_case("hostile uploads: admin CSV batch page (HTTP)")
    server, session, _ = web
    before = snapshot(fault_env.repo)
    r = session.post(f"{server.url}/admin/batch", data={"csrf_token": "forged", "collection": "c"},
                     files=[("csv", ("rows.csv", io.BytesIO(b"file,title\na.wav,x\n"), "text/csv")),
                            ("files", ("a.wav", io.BytesIO(materials.wav), "audio/wav"))], timeout=60)
    assert r.status_code == 400 and "Traceback" not in r.text
    assert_nothing_left(fault_env.repo, before)
