"""IIIF pyramids are built by the scan job (real libvips, real Tesseract), not on the first request."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ingest.intake import IngestOptions, ingest_paths, wait_for
from ingest.samples import cantonese_sentences, degrade, render_text_page
from ingest.scan.pyramid import PYRAMID_MIN_PIXELS, pyramid_path
from repository import jobs as queue
from repository.models import File, Item, Page

from tests.scan.conftest import small_page


def big_page(path: Path, seed: int) -> Path:
    """A 1800 × 1200 scan (2.16 MP: over the pyramid threshold) with a few lines of text."""
    text = "".join(cantonese_sentences(2, seed=seed))
    img, _ = render_text_page(text, width=1800, height=1200, font_size=40)
    assert img.width * img.height > PYRAMID_MIN_PIXELS
    degrade(img, seed=seed).save(path)
    return path


def page_images(repo, item_id: int) -> list[tuple[int, str, str]]:
    with repo.session() as s:
        return s.execute(select(Page.n, Page.image_id, File.sha256)
                         .join(File, (File.page_id == Page.id) & (File.role == "page_image"))
                         .where(Page.item_id == item_id).order_by(Page.n)).all()


def pyramid_files(settings) -> list[Path]:
    """Pyramids and half-written ones (``.tmp-*.tif``)."""
    root = settings.cache_dir / "pyramids"
    return sorted(root.rglob("*.tif")) if root.is_dir() else []


def test_big_page_has_its_pyramid_after_ingest_and_the_first_tile_does_not_build_one(
        repo, settings, collection, tmp_path, client):
    d = tmp_path / "item"
    d.mkdir()
    big_page(d / "1.png", seed=7)
    small_page(3).save(d / "2.png")
    (item_id, job_id), = ingest_paths(repo, [d], IngestOptions(collection=collection, publish=True, lang="chi_tra"))
    (job,) = wait_for(repo, [job_id])
    assert job.state == "done", job.error
    (_, big_id, big_sha), (_, small_id, small_sha) = page_images(repo, item_id)
    target = pyramid_path(settings.cache_dir, big_sha)
    # built by the ingest alone (no IIIF request was made), and only for the big page
    assert pyramid_files(settings) == [target]
    assert not pyramid_path(settings.cache_dir, small_sha).exists()
    before = target.stat()
    r = client.get(f"/iiif/3/{big_id}/512,256,512,512/256,/0/default.jpg")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    after = target.stat()
    # the image server used that pyramid: not rebuilt, not replaced, and its build lock never taken
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not target.with_suffix(".lock").exists()
    assert pyramid_files(settings) == [target]
    assert client.get(f"/iiif/3/{small_id}/full/200,/0/default.jpg").status_code == 200
    assert pyramid_files(settings) == [target]  # the small page is served without one


def test_failed_ingest_leaves_no_pyramid_and_the_retry_builds_them(repo, settings, collection, tmp_path):
    """Page 2's original rots in the store after intake: page 1 is made (with its pyramid), page 2
    fails, the item ends 'failed' — and no pyramid is left. After the repair, the retried job makes
    page 2 only and both big pages have their pyramids."""
    d = tmp_path / "book"
    d.mkdir()
    big_page(d / "1.png", seed=11)
    big_page(d / "2.png", seed=12)
    good = (d / "2.png").read_bytes()
    (item_id, job_id), = ingest_paths(repo, [d], IngestOptions(collection=collection, lang="chi_tra"))
    with repo.session() as s:
        sha = s.scalars(select(File.sha256).where(File.item_id == item_id, File.filename == "2.png")).one()
    stored = repo.store.path(sha)
    stored.chmod(0o644)
    stored.write_bytes(good[:300])
    wait_for(repo, [job_id])
    with repo.session() as s:
        assert s.get(Item, item_id).state == "failed"
    assert [n for n, _, _ in page_images(repo, item_id)] == [1]  # page 1 was made …
    assert pyramid_files(settings) == []  # … but the failed ingest left no pyramid behind
    assert not [p for p in settings.cache_dir.glob("scan-*")]  # nor a work directory
    stored.write_bytes(good)
    with repo.db.transaction() as s:
        queue.retry(s, job_id)
    (job,) = wait_for(repo, [job_id])
    assert job.state == "done", job.error
    shas = [sha for _, _, sha in page_images(repo, item_id)]
    assert len(shas) == 2
    assert pyramid_files(settings) == sorted(pyramid_path(settings.cache_dir, s) for s in shas)


def test_concurrent_requests_build_a_pyramid_once_and_leave_no_lock_file(tmp_path, monkeypatch):
    """Eight threads ask for the same missing pyramid at once (as concurrent tile requests do):
    one builds it, the others wait and use it; the lock file goes with its last holder."""
    import threading

    from ingest.scan import pyramid

    source = big_page(tmp_path / "scan.png", seed=7)
    builds = []
    real_build = pyramid.build_pyramid

    def counting_build(src, target):
        builds.append(target)
        return real_build(src, target)

    monkeypatch.setattr(pyramid, "build_pyramid", counting_build)
    cache, sha = tmp_path / "cache", "d" * 64
    start = threading.Barrier(8)
    results, errors = [], []

    def ask():
        try:
            start.wait()
            results.append(pyramid.ensure_pyramid(cache, source, sha))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(builds) == 1
    assert set(results) == {pyramid.pyramid_path(cache, sha)} and results[0].stat().st_size > 0
    assert sorted(p.name for p in (cache / "pyramids").rglob("*")) == ["dd", f"{sha}.tif"]
