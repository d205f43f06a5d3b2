"""CSV batch: encodings, the dry-run report of every row, nothing ingested while a row is bad,
``--only-good``, zip files (zip slip refused), and the same flow in the browser forms."""
from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest import batch
from repository.models import Blob, Item


@pytest.fixture(scope="module")
def wav_bytes(tmp_path_factory) -> bytes:
    """One second of real audio made by ffmpeg (lavfi sine)."""
    out = tmp_path_factory.mktemp("wav") / "tone.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-ac", "1", "-ar", "16000", str(out)], check=True)
    return out.read_bytes()


def _counts(repo) -> tuple[int, int]:
    with repo.session() as s:
        return s.scalar(select(func.count()).select_from(Item)), s.scalar(select(func.count()).select_from(Blob))


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    d = tmp_path / "files"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


BAD_ROWS = (
    "file,title,creator@en,collection,publish,lang\n"
    "口述一.wav,粵語口述歷史,Chan,gz-docs,yes,\n"            # line 2: fine
    "missing.wav,冇呢個檔,,gz-docs,,\n"                       # line 3: no such file
    "口述一.wav,=HYPERLINK(\"http://evil\"),,gz-docs,,\n"      # line 4: formula + file used twice
    "../secret.wav,x,,gz-docs,,\n"                             # line 5: '..'
    "口述二.wav,y,,nowhere,maybe,klingon\n"                     # line 6: collection, boolean, lang
)


def test_cli_dry_run_reports_every_bad_row_and_ingests_nothing(cli, staff, tmp_path, wav_bytes):
    files = _folder(tmp_path, {"口述一.wav": wav_bytes, "口述二.wav": wav_bytes})
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text(BAD_ROWS, encoding="utf-8")
    before = _counts(staff)
    r = cli("import-csv", csv_path, "--files", files, "--dry-run")
    assert r.code == 1
    assert r.out.strip() == ""
    for needle in ("line 2: ok", "line 3: missing.wav: no such file", "line 4: title:", "formula",
                   "already used on line 2", "line 5: ../secret.wav: '..' is not allowed",
                   "line 6: collection: no collection 'nowhere'", "line 6: publish: use yes or no",
                   "line 6: lang:"):
        assert needle in r.err, (needle, r.err)
    assert "dry run: 4 of 5 rows have problems" in r.err
    # without --dry-run: refused as a whole, still nothing stored
    r = cli("import-csv", csv_path, "--files", files)
    assert r.code == 1 and "nothing was ingested" in r.err and r.out.strip() == ""
    assert _counts(staff) == before


def test_cli_only_good_rows_and_json_report(cli, staff, tmp_path, wav_bytes):
    files = _folder(tmp_path, {"口述一.wav": wav_bytes, "口述二.wav": wav_bytes})
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text(BAD_ROWS, encoding="utf-8")
    r = cli("import-csv", csv_path, "--files", files, "--dry-run", "--json")
    import json

    report = json.loads(r.out)
    assert report["rows"] == 5 and report["good"] == 1 and [x["line"] for x in report["report"] if x["ok"]] == [2]
    r = cli("import-csv", csv_path, "--files", files, "--only-good")
    assert r.code == 0, r.err
    (item_id,) = [int(x) for x in r.out.split()]
    with staff.session() as s:
        item = s.get(Item, item_id)
        assert item.title == "粵語口述歷史" and item.publish_when_ready
        assert {"value": "Chan", "lang": "en"} in item.metadata_["creator"]
        assert item.institution.slug == "gz"


@pytest.mark.parametrize("encoding", ["gb18030", "big5hkscs", "utf-8-sig"])
def test_csv_encodings_are_detected(staff, tmp_path, wav_bytes, encoding):
    files = _folder(tmp_path, {"a.wav": wav_bytes})
    text = ("file,title,description,collection\n"
            "a.wav,廣州城坊志,佢哋喺度講緊舊時嘅街坊故事，冇人記得咗。呢啲係廣州西關嘅老街。,gz-docs\n")
    if encoding == "gb18030":
        text = text.replace("廣州城坊志", "广州城坊志").replace("佢哋喺度講緊舊時嘅街坊故事", "他们在讲从前的街坊故事")
    plan = batch.plan(staff, text.encode(encoding), files)
    assert plan.ok, plan.as_dict()
    assert plan.rows[0].title == text.split("\n")[1].split(",")[1]
    assert plan.encoding.replace("_", "-").lower().startswith({"gb18030": "gb", "big5hkscs": "big5",
                                                               "utf-8-sig": "utf-8"}[encoding])


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_slip_and_absolute_paths_are_refused(tmp_path):
    for name in ("../evil.wav", "a/../../evil.wav", "/tmp/evil.wav"):
        z = tmp_path / "x.zip"
        z.write_bytes(_zip({name: b"x"}))
        with pytest.raises(Exception) as exc:
            batch.extract_zip(z, tmp_path / "out", max_bytes=10**6)
        assert "refused" in str(exc.value)
        assert not (tmp_path / "evil.wav").exists()


def test_gbk_named_zip_members_keep_their_chinese_names(tmp_path):
    # a zip made on Chinese Windows: GBK bytes in the name, no UTF-8 flag
    raw = "口述.wav".encode("gbk")
    placeholder = b"X" * (len(raw) - 4) + b".wav"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(placeholder.decode(), b"data")
    buf = io.BytesIO(buf.getvalue().replace(placeholder, raw))
    z = tmp_path / "gbk.zip"
    z.write_bytes(buf.getvalue())
    out = batch.extract_zip(z, tmp_path / "out", max_bytes=10**6)
    assert (out / "口述.wav").read_bytes() == b"data"


def test_formula_cells():
    for cell in ("=1+1", "+1", "@SUM(A1)", "-2+3", "\t=x", "＝1"):
        assert batch.formula_problem(cell), cell
    for cell in ("廣州", "-", "-1925", "1925-1930", "a=b"):
        assert batch.formula_problem(cell) is None, cell


def test_web_batch_dry_run_then_only_good(as_staff, staff, wav_bytes):
    s = as_staff("ada")
    token = s.refresh_token("/admin/batch")
    csv_bytes = ("file,title,collection\n口述一.wav,粵語口述歷史,gz-docs\nmissing.wav,冇,gz-docs\n"
                 "口述一.wav,x,hk-docs\n").encode("big5hkscs")
    before = _counts(staff)
    r = s.client.post("/admin/batch", data={
        "csrf_token": token, "collection": "",
        "csv": (io.BytesIO(csv_bytes), "rows.csv"),
        "archive": (io.BytesIO(_zip({"口述一.wav": wav_bytes})), "files.zip")},
        content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 422, body[:1500]
    assert 'data-line="3"' in body and "no such file" in body
    assert "belongs to another institution" in body  # hk-docs is not ada's
    assert _counts(staff) == before
    import re

    run_url = re.search(r'action="(/admin/batch/[0-9a-f]{32}/run)"', body).group(1)
    r = s.post(run_url)  # all rows: refused
    assert r.status_code == 400 and "nothing was ingested" in r.get_data(as_text=True).replace("\n", " ")
    assert _counts(staff) == before
    r = s.post(run_url, {"only_good": "y"})
    assert r.status_code == 302 and "/admin/jobs" in r.headers["Location"]
    with staff.session() as db:
        assert [i.title for i in db.scalars(select(Item))] == ["粵語口述歷史"]
    assert s.post(run_url, {"only_good": "y"}).status_code == 404  # a batch runs once


def test_web_batch_bad_csv_message_beside_field(as_staff, staff):
    s = as_staff("ada")
    token = s.refresh_token("/admin/batch")
    r = s.client.post("/admin/batch", data={"csrf_token": token, "collection": ""}, content_type="multipart/form-data")
    assert r.status_code == 400 and 'id="csv-err"' in r.get_data(as_text=True)
    r = s.client.post("/admin/batch", data={"csrf_token": token, "collection": "",
                                            "csv": (io.BytesIO(b"file\nx\n"), "rows.csv"),
                                            "archive": (io.BytesIO(b"not a zip"), "f.zip")},
                      content_type="multipart/form-data")
    assert r.status_code == 400 and 'id="archive-err"' in r.get_data(as_text=True)


def test_dry_run_uses_the_real_pipeline_checks_and_stores_nothing(cli, staff, tmp_path, wav_bytes):
    """A PNG that passes the magic-byte sniff but is truncated is found in the dry run (the scan
    pipeline decodes it), and the good row beside it is not ingested either."""
    from tests.admin.conftest import render_scan

    png = render_scan(tmp_path / "whole.png").read_bytes()
    files = _folder(tmp_path, {"好.wav": wav_bytes, "truncated.png": png[: len(png) // 2]})
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text("file,title,collection\n好.wav,好,gz-docs\ntruncated.png,壞,gz-docs\n", encoding="utf-8")
    objects_before = sorted(p.name for p in staff.settings.objects_dir.rglob("*") if p.is_file())
    before = _counts(staff)
    r = cli("import-csv", csv_path, "--files", files)
    assert r.code == 1 and r.out.strip() == ""
    assert "line 3: " in r.err and "truncated.png" in r.err and "line 2: ok" in r.err
    assert _counts(staff) == before
    assert sorted(p.name for p in staff.settings.objects_dir.rglob("*") if p.is_file()) == objects_before
