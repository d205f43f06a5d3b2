"""Upload → job → worker → publish → visible to visitors; jobs page, retry/cancel; exhibits; stats; people."""
from __future__ import annotations

import hashlib
import io
import subprocess

import pytest
from sqlalchemy import func, select

from ingest.worker import Worker
from repository.models import Event, Exhibit, File, Item, Job, UsageEvent, utcnow


@pytest.fixture(scope="module")
def wav_bytes(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("wav") / "tone.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=330:duration=1",
                    "-ac", "1", "-ar", "16000", str(out)], check=True)
    return out.read_bytes()


def upload(s, name: str, data: bytes, **fields):
    form = {"collection": "gz-docs", **fields, "file": (io.BytesIO(data), name)}
    return s.client.post("/admin/upload/file", data=form, headers={"X-CSRFToken": s.token, "Accept": "application/json"},
                         content_type="multipart/form-data")


def run_worker(repo) -> None:
    """The real worker, until the queue is empty (main thread: it installs a SIGTERM handler)."""
    Worker(repo, name="test-worker", poll_seconds=0.1).run(once=True)


def test_upload_process_publish_visible_to_visitors(as_staff, staff, wav_bytes, client):
    s = as_staff("ada")
    r = upload(s, "粵語口述.wav", wav_bytes, title="西關口述歷史")
    assert r.status_code == 201, r.get_data(as_text=True)
    item_id, job_id = r.json["item"], r.json["job"]
    temp = staff.settings.data_dir / "tmp"
    assert not any(temp.rglob("*.wav")), "the upload's temp file must be removed"
    assert client.get(f"/items/{item_id}").status_code == 404  # not public while processing
    data = s.get(f"/admin/jobs.json?ids={job_id}").json
    assert data["jobs"][0]["id"] == job_id and data["jobs"][0]["state"] == "queued"
    run_worker(staff)
    data = s.get(f"/admin/jobs.json?ids={job_id}").json
    assert data["jobs"][0]["state"] == "done", data
    with staff.session() as db:
        assert db.get(Item, item_id).state == "draft"
    assert client.get(f"/items/{item_id}").status_code == 404  # a draft is not public
    assert s.post(f"/admin/items/{item_id}/publish").status_code == 302
    r = client.get(f"/items/{item_id}")
    assert r.status_code == 200 and "西關口述歷史" in r.get_data(as_text=True)
    # bea (another institution) sees the published item but may not edit it
    bea = as_staff("bea")
    assert bea.post(f"/admin/items/{item_id}/unpublish").status_code == 403
    assert bea.get(f"/admin/jobs.json?ids={job_id}").json["jobs"] == []  # not her institution's job


def test_upload_refusals_are_json_400_with_the_field(as_staff, staff, wav_bytes):
    s = as_staff("ada")
    r = upload(s, "note.txt", "這不是錄音也不是掃描".encode())
    assert r.status_code == 400 and r.json["field"] == "file" and "note.txt" in r.json["error"]
    r = upload(s, "a.wav", wav_bytes, collection="hk-docs")  # another institution's collection
    assert r.status_code == 400 and r.json["field"] == "collection"
    r = upload(s, "a.wav", wav_bytes, lang="auto")
    assert r.status_code == 201
    r = s.client.post("/admin/upload/file", data={"collection": "gz-docs", "file": (io.BytesIO(wav_bytes), "a.wav")},
                      content_type="multipart/form-data")
    assert r.status_code == 400  # no CSRF token
    assert not any((staff.settings.data_dir / "tmp").rglob("*.*"))


def test_cancel_and_retry(as_staff, staff, wav_bytes):
    s = as_staff("ada")
    job_id = upload(s, "b.wav", wav_bytes).json["job"]
    assert s.post(f"/admin/jobs/{job_id}/cancel").status_code == 302
    with staff.session() as db:
        job = db.get(Job, job_id)
        assert job.state == "cancelled" and db.get(Item, job.item_id).state == "failed"
    assert s.post(f"/admin/jobs/{job_id}/cancel").status_code == 400  # already cancelled: a message
    page = s.get("/admin/jobs").get_data(as_text=True)
    assert f'data-job="{job_id}"' in page and "Retry" in page
    assert s.post(f"/admin/jobs/{job_id}/retry").status_code == 302
    with staff.session() as db:
        assert db.get(Job, job_id).state == "queued"
    assert as_staff("bea").post(f"/admin/jobs/{job_id}/cancel").status_code == 404
    run_worker(staff)
    with staff.session() as db:
        assert db.get(Job, job_id).state == "done"
        assert db.get(Item, db.get(Job, job_id).item_id).state == "draft"


def test_replace_file_rederives(as_staff, staff, wav_bytes):
    s = as_staff("ada")
    item_id = upload(s, "c.wav", wav_bytes).json["item"]
    run_worker(staff)
    r = s.client.post(f"/admin/items/{item_id}/replace", data={"csrf_token": s.token, "file": (io.BytesIO(b"junk"), "x.bin")},
                      content_type="multipart/form-data")
    assert r.status_code == 400 and 'id="file-err"' in r.get_data(as_text=True)
    r = s.client.post(f"/admin/items/{item_id}/replace",
                      data={"csrf_token": s.token, "file": (io.BytesIO(wav_bytes), "新錄音.wav")},
                      content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:1000]
    with staff.session() as db:
        assert db.get(Item, item_id).state == "processing"
        assert "replacement" in [e.type for e in db.scalars(select(Event).where(Event.item_id == item_id))]
    run_worker(staff)
    with staff.session() as db:
        item = db.get(Item, item_id)
        assert item.state == "draft"
        assert [f.filename for f in item.files if f.role == "original"] == ["新錄音.wav"]


def test_exhibit_editor_with_sanitised_markdown(as_staff, staff):
    s = as_staff("ada")
    r = s.post("/admin/exhibits/new", {"slug": "xiguan", "title": "西關風情", "summary": "**粗體** <script>alert(1)</script>"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    with staff.session() as db:
        ex = db.scalar(select(Exhibit).where(Exhibit.slug == "xiguan"))
    page = s.get(f"/admin/exhibits/{ex.id}").get_data(as_text=True)
    assert "<strong>粗體</strong>" in page and "<script>alert(1)" not in page
    r = s.post(f"/admin/exhibits/{ex.id}/sections", {"heading": "第一節", "body": "[x](javascript:alert(1)) 佢哋"})
    assert r.status_code == 302
    r = s.post(f"/admin/exhibits/{ex.id}/sections", {"heading": "第二節", "item_id": "999"})
    assert r.status_code == 400 and 'id="item_id-err"' in r.get_data(as_text=True)
    s.post(f"/admin/exhibits/{ex.id}/sections", {"heading": "第二節", "body": "text", "position": "1"})
    with staff.session() as db:
        ex = db.get(Exhibit, ex.id)
        assert [x.heading for x in ex.sections] == ["第二節", "第一節"]
        first = ex.sections[1].id
    s.post(f"/admin/exhibits/{ex.id}/sections/{first}/up")
    page = s.get(f"/admin/exhibits/{ex.id}").get_data(as_text=True)
    assert "href=\"javascript" not in page and "<script>alert(1)" not in page
    assert page.index("第一節") < page.index("第二節")
    r = s.post("/admin/exhibits/new", {"slug": "xiguan", "title": "dup"})
    assert r.status_code == 400 and 'id="slug-err"' in r.get_data(as_text=True)
    r = s.post("/admin/exhibits/new", {"slug": "Bad Slug!", "title": "x"})
    assert r.status_code == 400 and 'id="slug-err"' in r.get_data(as_text=True)
    assert as_staff("bea").get(f"/admin/exhibits/{ex.id}").status_code == 403


def test_stats_data_wall(as_staff, staff):
    with staff.unit_of_work("test") as uow:
        for q, n in (("廣州", 3), ("广州", 2), ("冇結果", 0), ("冇結果", 0)):
            uow.session.add(UsageEvent(kind="search", query=q, results=n))
        uow.session.add(UsageEvent(kind="view", item_id=None))
    s = as_staff("ada")
    data = s.get("/admin/stats.json").json
    assert ["冇結果", 2] in data["zero_result_queries"]
    assert data["top_queries"][0] == ["冇結果", 2]
    today = utcnow().strftime("%Y-%m-%d")
    assert data["per_day"][today]["search"] == 4 and data["per_day"][today]["view"] == 1
    page = s.get("/admin/stats").get_data(as_text=True)
    assert "冇結果" in page and 'id="stat-items"' in page


def test_admin_manages_people(as_staff, staff):
    root = as_staff("root")
    assert root.post("/admin/institutions", {"slug": "fs", "name": "佛山市圖書館"}).status_code == 302
    r = root.post("/admin/institutions", {"slug": "fs", "name": "dup"})
    assert r.status_code == 400 and 'id="slug-err"' in r.get_data(as_text=True)
    assert root.post("/admin/collections", {"slug": "fs-docs", "title": "佛山文獻", "institution": "fs",
                                            "ocr_languages": ["chi_tra_vert"]}).status_code == 302
    r = root.post("/admin/users", {"name": "chan", "password": "short", "role": "archivist", "institution": "fs"})
    assert r.status_code == 400 and 'id="password-err"' in r.get_data(as_text=True)
    r = root.post("/admin/users", {"name": "chan", "password": "long enough pw", "role": "archivist", "institution": ""})
    assert r.status_code == 400 and 'id="institution-err"' in r.get_data(as_text=True)
    assert root.post("/admin/users", {"name": "chan", "password": "long enough pw", "role": "archivist",
                                      "institution": "fs"}).status_code == 302
    chan = as_staff()
    assert chan.login("chan", "long enough pw").status_code == 302


def test_upload_with_transcript(as_staff, staff, wav_bytes):
    s = as_staff("ada")
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:00.900\n佢哋喺西關住咗好耐\n".encode()
    r = s.client.post("/admin/upload/file", data={
        "collection": "gz-docs", "file": (io.BytesIO(wav_bytes), "訪問.wav"),
        "transcript": (io.BytesIO(vtt), "訪問.vtt")},
        headers={"X-CSRFToken": s.token, "Accept": "application/json"}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_data(as_text=True)
    run_worker(staff)
    with staff.session() as db:
        item = db.get(Item, r.json["item"])
        assert item.state == "draft", item.error
        assert any("西關" in seg.text for seg in item.segments)


def test_jobs_page_shows_errors_per_page(as_staff, staff):
    from repository import catalog
    from repository import jobs as queue

    with staff.unit_of_work("test") as uow:
        coll = catalog.collection(uow.session, "gz-docs")
        item = Item(collection=coll, institution=coll.institution, title="壞頁", state="failed",
                    error="page 2: Tesseract could not read the image")
        uow.session.add(item)
        uow.session.flush()
        job = queue.enqueue(uow.session, "scan", {}, item_id=item.id)
        job.state, job.error = "failed", "1 of 3 pages failed"
        job.progress = {"done": 3, "total": 3, "step": "done",
                        "errors": [{"page": 2, "error": "Tesseract could not read the image"}]}
        job_id = job.id
    s = as_staff("ada")
    page = s.get("/admin/jobs").get_data(as_text=True)
    assert "page 2: Tesseract could not read the image" in page and "1 of 3 pages failed" in page
    data = s.get("/admin/jobs.json?state=failed").json
    assert data["jobs"][0]["id"] == job_id and data["jobs"][0]["errors"][0]["page"] == 2
    assert data["jobs"][0]["title"] == "壞頁"


def test_an_uploaded_recording_is_moved_into_the_store_not_copied(as_staff, staff, wav_bytes, monkeypatch):
    """The upload's temporary file is hashed where it is and renamed into the store: the store
    never copies it (put_stream is the copying path), and the stored bytes are the upload's."""
    from repository.store import ObjectStore

    copied = []
    real = ObjectStore.put_stream
    monkeypatch.setattr(ObjectStore, "put_stream", lambda self, stream: copied.append(1) or real(self, stream))
    s = as_staff("ada")
    r = upload(s, "搬入.wav", wav_bytes)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert copied == [], "the original was copied into the store instead of moved"
    with staff.session() as db:
        original = db.scalar(select(File).where(File.item_id == r.json["item"], File.role == "original"))
        sha = original.sha256
    assert sha == hashlib.sha256(wav_bytes).hexdigest() and staff.store.hash_of(sha) == sha
    assert not any((staff.settings.data_dir / "tmp").rglob("*.*"))


def test_a_refused_upload_hashed_in_place_leaves_nothing(as_staff, staff, wav_bytes):
    """The transcript is refused after the recording was hashed in place: 400, no object, no row,
    no temporary file (the recording is only taken into the store once every check passed)."""
    s = as_staff("ada")
    before = set(staff.store.iter_objects())
    with staff.session() as db:
        items = db.scalar(select(func.count()).select_from(Item))
    vtt = "WEBVTT\n\n00:10:00.000 --> 00:10:01.000\n太遲\n".encode()  # beyond the end of the recording
    r = s.client.post("/admin/upload/file", data={
        "collection": "gz-docs", "file": (io.BytesIO(wav_bytes), "拒絕.wav"),
        "transcript": (io.BytesIO(vtt), "拒絕.vtt")},
        headers={"X-CSRFToken": s.token, "Accept": "application/json"}, content_type="multipart/form-data")
    assert 400 <= r.status_code < 500 and r.json["error"], r.get_data(as_text=True)
    assert set(staff.store.iter_objects()) == before
    with staff.session() as db:
        assert db.scalar(select(func.count()).select_from(Item)) == items
    assert not any((staff.settings.data_dir / "tmp").rglob("*.*"))
