"""/media/<file_id>: Content-Type, HTTP Range (206/416), ETag, and access control."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from repository.models import File, Item


@pytest.fixture(scope="module")
def published(av_site) -> dict[str, File]:
    return av_site.files(av_site.video_id)


@pytest.fixture(scope="module")
def client(av_site):
    return av_site.app.test_client()


@pytest.fixture(scope="module")
def site_repo(av_site):
    return av_site.repo


def _bytes(repo, f: File) -> bytes:
    return repo.store.path(f.sha256).read_bytes()


def test_whole_file_with_type_etag_and_accept_ranges(client, site_repo, published):
    f = published["access"]
    r = client.get(f"/media/{f.id}")
    assert r.status_code == 200 and r.mimetype == "video/mp4"
    assert r.data == _bytes(site_repo, f)
    assert r.headers["Accept-Ranges"] == "bytes" and r.headers["ETag"] == f'"{f.sha256}"'
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert int(r.headers["Content-Length"]) == f.size
    again = client.get(f"/media/{f.id}", headers={"If-None-Match": f'"{f.sha256}"'})
    assert again.status_code == 304 and again.data == b""
    head = client.head(f"/media/{f.id}")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == f.size


@pytest.mark.parametrize("spec", ["first", "middle", "last", "suffix", "open"])
def test_range_requests(client, site_repo, published, spec):
    f = published["access"]
    data = _bytes(site_repo, f)
    n = len(data)
    header, lo, hi = {
        "first": ("bytes=0-0", 0, 0),
        "middle": (f"bytes={n // 2}-{n // 2 + 99}", n // 2, n // 2 + 99),
        "last": (f"bytes={n - 1}-{n - 1}", n - 1, n - 1),
        "suffix": ("bytes=-500", n - 500, n - 1),
        "open": (f"bytes={n - 1000}-", n - 1000, n - 1),
    }[spec]
    r = client.get(f"/media/{f.id}", headers={"Range": header})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{n}"
    assert r.data == data[lo:hi + 1] and int(r.headers["Content-Length"]) == hi - lo + 1
    assert r.mimetype == "video/mp4"


@pytest.mark.parametrize("header", ["bytes={n}-", "bytes={n}-{m}", "bytes=5-2", "bytes=abc", "pages=1-2"])
def test_invalid_ranges_are_416(client, published, header):
    f = published["access"]
    r = client.get(f"/media/{f.id}", headers={"Range": header.format(n=f.size, m=f.size + 10)})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{f.size}"


def test_other_stored_files_are_served_too(client, site_repo, published):
    for role, mime in (("poster", "image/jpeg"), ("strip", "image/jpeg"), ("original", "video/mp4")):
        f = published[role]
        r = client.get(f"/media/{f.id}")
        assert r.status_code == 200 and r.mimetype == mime and r.data == _bytes(site_repo, f)


def test_unpublished_items_files_are_404_like_missing_ones(client, av_site):
    files = av_site.files(av_site.draft_id)
    with av_site.repo.session() as s:
        assert s.get(Item, av_site.draft_id).state == "draft"
    assert {"original", "access", "waveform"} <= set(files)
    for f in files.values():
        r = client.get(f"/media/{f.id}", headers={"Range": "bytes=0-10"})
        assert r.status_code == 404 and b"RIFF" not in r.data and b"ftyp" not in r.data
    missing = client.get("/media/999999")
    assert missing.status_code == 404
    hidden = client.get(f"/media/{files['access'].id}", headers={"Accept": "application/json"})
    assert hidden.json == client.get("/media/999999", headers={"Accept": "application/json"}).json
    assert client.get(f"/media/items/{av_site.draft_id}/find?q=x").status_code == 404


def test_trashed_items_files_are_404(repo, ingest_one, media):
    """Own repository: this one changes an item."""
    from web.app import create_app

    item_id = ingest_one(media.make("wav", 1.0))
    with repo.unit_of_work("test") as uow:
        from repository.models import utcnow

        uow.session.get(Item, item_id).deleted_at = utcnow()
        fid = uow.session.scalar(select(File.id).where(File.item_id == item_id, File.role == "access"))
    assert create_app(repo.settings, repo).test_client().get(f"/media/{fid}").status_code == 404


def test_find_in_transcript_folds_scripts(client, av_site):
    item_id = av_site.video_id
    r = client.get(f"/media/items/{item_id}/find?q=广州西关", headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert [(m["index"], m["start"], m["spans"]) for m in r.json["matches"]] == [(0, av_site.starts[0], [[4, 8]])]
    r = client.get(f"/media/items/{item_id}/find?q=点心")  # 點心 in the second sentence
    assert [(m["index"], m["start"]) for m in r.json["matches"]] == [(1, av_site.starts[1])]
    assert client.get(f"/media/items/{item_id}/find?q=", headers={"Accept": "application/json"}).status_code == 400
    assert client.get(f"/media/items/{item_id}/find?q=" + "字" * 300).status_code == 400
    assert client.get("/media/items/424242/find?q=x").status_code == 404


def test_item_page_has_player_transcript_and_captions(client, av_site):
    files = av_site.files(av_site.video_id)
    html = client.get(f"/items/{av_site.video_id}?t=2.5").get_data(as_text=True)
    assert 'class="av-element"' in html and f'src="/media/{files["access"].id}"' in html
    assert f'poster="/media/{files["poster"].id}"' in html
    assert f'<track kind="captions" src="/media/{files["webvtt"].id}"' in html
    assert 'data-start="2.5"' in html and html.count('class="av-seek av-line"') == 3
    assert "我細個喺廣州西關長大。" in html and "player.js" in html
    assert client.get(f"/items/{av_site.video_id}?t=abc").status_code == 400


def test_stored_html_is_sandboxed(repo, ingest_one, media, tmp_path):
    """hOCR and other stored markup must never run as this site's page."""
    from web.app import create_app

    item_id = ingest_one(media.make("wav", 1.0))
    page = tmp_path / "ocr.hocr"
    page.write_text("<html><body><script>alert(1)</script>嘅</body></html>", encoding="utf-8")
    with repo.unit_of_work("test") as uow:
        f = uow.add_file(uow.session.get(Item, item_id), page, role="hocr", mime="text/html", filename="ocr.hocr")
        uow.session.flush()
        fid = f.id
    r = create_app(repo.settings, repo).test_client().get(f"/media/{fid}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Content-Security-Policy"].startswith("sandbox")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
