"""Fixity, audit trail, BagIt export/import, backup/restore — with real stored files."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import bagit
import pytest
from sqlalchemy import func, select

from config import InvalidInput, load_settings
from repository import Repository
from repository.models import Blob, Event, File, Item, Page, Segment
from repository.preservation import audit
from repository.preservation.bag import export_bag, import_bag


def objects_of(repo: Repository, item_id: int, role: str | None = None) -> list[str]:
    with repo.session() as s:
        q = select(File.sha256).where(File.item_id == item_id)
        if role:
            q = q.where(File.role == role)
        return sorted(s.scalars(q))


def writable(path: Path) -> Path:
    path.chmod(0o644)  # object files are stored read-only
    return path


# ---- fixity ---------------------------------------------------------------------------------

def test_fixity_passes_on_intact_store(cli, sample, repo):
    r = cli("fixity")
    assert r.code == 0, r
    with repo.session() as s:
        n = s.scalar(select(func.count()).select_from(Blob))
        assert f"{n} files checked, {n} ok, 0 failed" in r.out
        assert s.scalar(select(func.count()).select_from(Blob).where(Blob.last_check_ok.is_(True))) == n
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type == "fixity check")) == n


def test_fixity_detects_flipped_byte_and_deleted_file(cli, sample, repo):
    originals = objects_of(repo, sample["pub1"], "original")
    altered, deleted = originals[0], originals[1]
    p = writable(repo.store.path(altered))
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    repo.store.path(deleted).unlink()
    r = cli("fixity")
    assert r.code == 1
    assert f"ALTERED {repo.store.path(altered)}" in r.out and f"MISSING {repo.store.path(deleted)}" in r.out
    assert "2 failed" in r.out
    with repo.session() as s:
        assert s.get(Blob, altered).last_check_ok is False and s.get(Blob, deleted).last_check_ok is False
        failures = s.scalars(select(Event).where(Event.type == "fixity check", Event.outcome == "failure")).all()
        assert {e.sha256 for e in failures} == {altered, deleted}
        assert {e.detail["problem"] for e in failures} == {"altered", "missing"}


def test_audit_trail_lists_item_events_with_agent_and_time(cli, sample, repo):
    cli("fixity")
    with repo.session() as s:
        events = audit.events_for(s, sample["pub1"])
        types = [e.type for e in events]
        assert "ingestion" in types and "creation" in types and "message digest calculation" in types
        assert "fixity check" in types
        assert all(e.agent and e.at for e in events)
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert all(e.item_id in (sample["pub1"], None) or e.type == "fixity check" for e in events)
        assert audit.as_dict(events[0])["type"] == events[0].type


# ---- BagIt ----------------------------------------------------------------------------------

@pytest.fixture
def other_repo(tmp_path, sample):
    """A second, empty repository with the same collections (where bags are imported)."""
    r = Repository.open(load_settings(data_dir=tmp_path / "elsewhere"), create=True)
    from repository import catalog

    with r.unit_of_work("test") as uow:
        catalog.add_institution(uow.session, "gz-lib", "廣州圖書館")
        catalog.add_collection(uow.session, "newspapers", "民國報紙", institution_slug="gz-lib")
        catalog.add_collection(uow.session, "oral", "口述歷史")
    yield r
    r.db.dispose()


def test_bag_round_trip_preserves_checksums(cli, sample, repo, other_repo, tmp_path):
    dest = tmp_path / "bag1"
    r = cli("export-bag", sample["pub1"], dest, "--derivatives")
    assert r.code == 0, r
    bag = bagit.Bag(str(dest))
    assert bag.is_valid() and "sha256" in bag.algorithms
    assert (dest / "data" / "dc.xml").is_file() and (dest / "data" / "pages" / "0001.txt").read_text() == "廣州城"
    record = json.loads((dest / "data" / "item.json").read_text())
    assert record["id"] == sample["pub1"] and record["metadata"]["creator"][0]["value"] == "佚名"
    # every stored file is in the manifest under its own SHA-256
    assert set(objects_of(repo, sample["pub1"])) <= {v["sha256"] for v in bag.entries.values()}

    result = import_bag(other_repo, dest, agent="test")
    assert result.job_id is None
    assert objects_of(other_repo, result.item_id, "original") == objects_of(repo, sample["pub1"], "original")
    assert objects_of(other_repo, result.item_id) == objects_of(repo, sample["pub1"])
    for sha in objects_of(other_repo, result.item_id):
        assert other_repo.store.hash_of(sha) == sha  # real bytes copied in from the bag
    with other_repo.session() as s:
        item = s.get(Item, result.item_id)
        assert item.title == "廣州嘅舊報紙" and item.state == "published" and item.collection.slug == "newspapers"
        pages = s.scalars(select(Page).where(Page.item_id == item.id).order_by(Page.n)).all()
        assert [p.text for p in pages] == ["廣州城", "珠江"] and pages[0].words[0]["xywh"] == [10, 30, 32, 40]
        assert s.scalar(select(func.count()).select_from(File).where(File.item_id == item.id,
                                                                     File.page_id.is_not(None))) == 4
        assert s.scalar(select(Event).where(Event.item_id == item.id, Event.type == "transfer")) is not None


def test_bag_of_a_recording_keeps_segments(sample, repo, other_repo, tmp_path):
    dest = export_bag(repo, sample["pub2"], tmp_path / "bag2")
    assert "陳伯" in (dest / "data" / "transcript.txt").read_text()
    result = import_bag(other_repo, dest)
    with other_repo.session() as s:
        segs = s.scalars(select(Segment).where(Segment.item_id == result.item_id).order_by(Segment.start)).all()
        assert [(g.start, g.end, g.text, g.speaker) for g in segs] == [
            (0.0, 2.5, "我哋以前喺西關住", "陳伯"), (2.5, 5.0, "冇錯，嗰陣時好熱鬧", "李姨")]


def test_tampered_bag_is_refused_naming_the_file(cli, sample, repo, tmp_path):
    dest = tmp_path / "bag3"
    assert cli("export-bag", sample["pub1"], dest).code == 0
    victim = sorted((dest / "data" / "originals").iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    with repo.session() as s:
        before = (s.scalar(select(func.count()).select_from(Item)), sorted(repo.store.iter_objects()))
    r = cli("import-bag", dest)
    assert r.code == 1 and f"data/originals/{victim.name}" in r.err and "failed validation" in r.err
    with repo.session() as s:
        assert (s.scalar(select(func.count()).select_from(Item)), sorted(repo.store.iter_objects())) == before
    victim.unlink()
    r = cli("import-bag", dest)
    assert r.code == 1 and victim.name in r.err


def test_bad_bag_arguments(cli, sample, tmp_path):
    r = cli("import-bag", tmp_path / "nope")
    assert r.code == 1 and "not a directory" in r.err
    (tmp_path / "plain").mkdir()
    r = cli("import-bag", tmp_path / "plain")
    assert r.code == 1 and "not a valid bag" in r.err
    r = cli("export-bag", 999999, tmp_path / "x")
    assert r.code == 1 and "no item 999999" in r.err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a").write_text("x")
    r = cli("export-bag", sample["pub1"], tmp_path / "full")
    assert r.code == 1 and "not an empty directory" in r.err
    with pytest.raises(InvalidInput):
        export_bag(Repository.open(load_settings()), sample["pub1"], tmp_path / "full")


# ---- backup / restore -----------------------------------------------------------------------

def snapshot(repo: Repository) -> dict:
    with repo.session() as s:
        return {
            "items": sorted((i.id, i.title, i.state) for i in s.scalars(select(Item))),
            "files": sorted((f.item_id, f.role, f.sha256) for f in s.scalars(select(File))),
            "blobs": sorted((b.sha256, b.size) for b in s.scalars(select(Blob))),
        }


def test_backup_wipe_restore_gives_same_repository_and_search(cli, sample, repo, settings, tmp_path):
    from repository.access import Viewer
    from search import drain_outbox
    from search.service import search

    drain_outbox(repo)
    queries = ("廣州", "西關", "广州")
    before_search = {q: [(h["id"], h["title"]) for h in search(repo, q, viewer=Viewer.anonymous())["results"]]
                     for q in queries}
    assert before_search["廣州"] and before_search["广州"] == before_search["廣州"]
    before = snapshot(repo)
    dest = tmp_path / "backup"
    r = cli("backup", dest)
    assert r.code == 0, r
    manifest = json.loads((dest / "manifest.json").read_text())
    assert set(manifest["objects"]) == {sha for sha, _ in before["blobs"]}
    r2 = cli("backup", dest)  # incremental: nothing new to copy
    assert r2.code == 0 and "(0 copied)" in r2.out

    repo.db.dispose()
    for p in settings.data_dir.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    shutil.rmtree(settings.data_dir)
    settings.data_dir.mkdir()

    r3 = cli("restore", dest)
    assert r3.code == 0, r3
    restored = Repository.open(settings)
    try:
        assert snapshot(restored) == before
        for sha, _ in before["blobs"]:
            assert restored.store.hash_of(sha) == sha
        after_search = {q: [(h["id"], h["title"]) for h in search(restored, q, viewer=Viewer.anonymous())["results"]]
                        for q in queries}
        assert after_search == before_search
    finally:
        restored.db.dispose()
    r4 = cli("restore", dest)
    assert r4.code == 1 and "not empty" in r4.err


def test_restore_refuses_damaged_backup_and_bad_source(cli, sample, repo, settings, tmp_path, capsys):
    dest = tmp_path / "backup"
    assert cli("backup", dest).code == 0
    obj = next(p for p in (dest / "objects").rglob("*") if p.is_file())
    writable(obj).write_bytes(b"rotten")
    target = tmp_path / "fresh"
    from web.cli import main

    assert main(["--data-dir", str(target), "restore", str(dest)]) == 1
    assert "does not match its checksum" in capsys.readouterr().err
    assert not (target / "heritage.db").exists() and not (target / "objects").exists()
    r = cli("restore", tmp_path / "no-backup-here")
    assert r.code == 1 and "manifest.json" in r.err
    r = cli("backup", settings.data_dir / "inside")
    assert r.code == 1 and "outside the data directory" in r.err


def test_bag_without_derivatives_is_rederived_by_the_pipeline(cli, repo, build, tmp_path):
    """A recording ingested by the real AV pipeline, bagged without derivatives, re-derived on import."""
    from ingest.av.speech import make_test_media
    from ingest.intake import IngestOptions, create_item, wait_for

    build.collection("oral", "口述歷史")
    wav = make_test_media("wav", tmp_path / "interview.wav", 2.0)
    vtt = tmp_path / "interview.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n<v 陳伯>我哋以前喺西關住\n", encoding="utf-8")
    item_id, job_id = create_item(repo, [wav], IngestOptions(collection="oral", title="西關訪問", publish=True,
                                                              transcript=vtt))
    assert wait_for(repo, [job_id])[0].state == "done"
    bag = tmp_path / "bag-av"
    assert cli("export-bag", item_id, bag).code == 0
    assert not (bag / "data" / "derivatives").exists()
    r = cli("import-bag", bag, "--wait")
    assert r.code == 0, r
    new_id = int(r.out.strip().splitlines()[-1])
    assert objects_of(repo, new_id, "original") == objects_of(repo, item_id, "original")
    with repo.session() as s:
        new = s.get(Item, new_id)
        assert new.state == "published" and new.type == "Sound"
        assert {f.role for f in new.files} >= {"original", "access"}
        assert [g.text for g in new.segments] == ["我哋以前喺西關住"]


def test_backup_is_consistent_while_the_site_serves_and_writes(cli, sample, build, repo, live_server, tmp_path):
    """Items are added and the API is read while the backup runs; the restored copy is whole."""
    import threading

    import requests

    from repository.preservation import fixity as fx
    from repository.preservation.backup import backup, restore

    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer():
        try:
            while not stop.is_set() and len(written) < 40:
                written.append(build.item(f"並行 {len(written)}", collection="newspapers", pages=["廣州"]))
                requests.get(f"{live_server}/api/items/{written[-1]}", timeout=10).raise_for_status()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        while len(written) < 2:
            stop.wait(0.05)
        report = backup(repo, tmp_path / "bk")
    finally:
        stop.set()
        t.join(timeout=60)
    assert not errors and not report.problems
    restored = restore(load_settings(data_dir=tmp_path / "restored"), tmp_path / "bk")
    try:
        check = fx.verify_all(restored)
        assert check.failed == 0 and check.checked == report.objects
        with restored.session() as s:
            n_items = s.scalar(select(func.count()).select_from(Item))
            dangling = s.scalar(select(func.count()).select_from(File).where(~File.sha256.in_(select(Blob.sha256))))
        assert dangling == 0
        assert 4 + 2 <= n_items <= 4 + len(written)  # a point in time between start and end
    finally:
        restored.db.dispose()


def test_import_into_a_repository_without_the_collection_says_what_to_do(sample, repo, tmp_path):
    from config import NotFound

    dest = export_bag(repo, sample["pub1"], tmp_path / "bag-nc")
    bare = Repository.open(load_settings(data_dir=tmp_path / "bare"), create=True)
    try:
        with pytest.raises(NotFound, match="--collection"):
            import_bag(bare, dest)
        assert list(bare.store.iter_objects()) == []
        from repository import catalog

        with bare.unit_of_work("test") as uow:
            catalog.add_collection(uow.session, "elsewhere", "別處")
        result = import_bag(bare, dest, collection="elsewhere")
        assert objects_of(bare, result.item_id, "original") == objects_of(repo, sample["pub1"], "original")
    finally:
        bare.db.dispose()


def test_scan_bag_without_derivatives_is_rederived_by_the_scan_pipeline(cli, build, repo, tmp_path):
    """Originals only in the bag: import-bag --wait runs the real scan pipeline (Tesseract) again."""
    build.collection("scans", "掃描")
    item_id = build.item("廣州報紙", collection="scans", pages=["廣州城"])
    assert cli("export-bag", item_id, tmp_path / "bag-scan").code == 0
    r = cli("import-bag", tmp_path / "bag-scan", "--wait")
    assert r.code == 0, r
    new_id = int(r.out.strip().splitlines()[-1])
    assert objects_of(repo, new_id, "original") == objects_of(repo, item_id, "original")
    with repo.session() as s:
        new = s.get(Item, new_id)
        assert new.state == "published" and new.error is None and len(new.pages) == 1
        assert {"original", "page_image", "hocr"} <= {f.role for f in new.files}
        assert new.pages[0].ocr_status == "done"
