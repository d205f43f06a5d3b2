"""Image API 3.0: request parsing, HTTP behaviour, formats/qualities, tile cache, big images."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from config import InvalidInput
from web.iiif.cache import TileCache
from web.iiif.image import NotImplementedFeature, parse

from tests.iiif.conftest import text_page

ROOT = Path(__file__).resolve().parents[2]


# ---- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize("region,size,expect", [
    ("full", "max", (0, 0, 1000, 800, 1000, 800)),
    ("square", "max", (100, 0, 800, 800, 800, 800)),
    ("10,20,300,400", "150,", (10, 20, 300, 400, 150, 200)),
    ("900,700,500,500", "max", (900, 700, 100, 100, 100, 100)),  # clipped at the edge
    ("pct:10,10,50,50", ",200", (100, 80, 500, 400, 250, 200)),
    ("full", "pct:50", (0, 0, 1000, 800, 500, 400)),
    ("full", "!200,200", (0, 0, 1000, 800, 200, 160)),
    ("full", "300,100", (0, 0, 1000, 800, 300, 100)),
    ("full", "^2000,", (0, 0, 1000, 800, 2000, 1600)),
    ("full", "^pct:150", (0, 0, 1000, 800, 1500, 1200)),
    ("full", "^max", (0, 0, 1000, 800, 1000, 800)),
])
def test_parse_valid(region, size, expect):
    r = parse(region, size, "0", "default.jpg", 1000, 800)
    assert (r.x, r.y, r.w, r.h, r.width, r.height) == expect


@pytest.mark.parametrize("region,size,rotation,qf", [
    ("full", "max", "0", "default.bmp"),  # unknown format
    ("full", "max", "0", "fancy.jpg"),  # unknown quality
    ("full", "max", "0", "default"),  # no format
    ("full", "max", "361", "default.jpg"),
    ("full", "max", "-90", "default.jpg"),
    ("full", "max", "abc", "default.jpg"),
    ("1000,0,10,10", "max", "0", "default.jpg"),  # outside
    ("0,0,0,10", "max", "0", "default.jpg"),  # empty
    ("pct:101,0,10,10", "max", "0", "default.jpg"),
    ("nonsense", "max", "0", "default.jpg"),
    ("full", "full", "0", "default.jpg"),  # 2.x syntax is not 3.0
    ("full", "2000,", "0", "default.jpg"),  # upscaling without ^
    ("full", "pct:150", "0", "default.jpg"),
    ("full", "!2000,3000", "0", "default.jpg"),
    ("full", "0,", "0", "default.jpg"),
    ("full", "^20000,", "0", "default.jpg"),  # over maxWidth
])
def test_parse_invalid_is_400(region, size, rotation, qf):
    with pytest.raises(InvalidInput):
        parse(region, size, rotation, qf, 1000, 800)


def test_parse_unsupported_format_is_501():
    for fmt in ("jp2", "pdf"):
        with pytest.raises(NotImplementedFeature):
            parse("full", "max", "0", f"default.{fmt}", 1000, 800)


def test_canonical_form():
    assert parse("full", "max", "0", "default.jpg", 1000, 800).canonical() == "full/max/0/default.jpg"
    assert parse("pct:0,0,100,100", "1000,", "0", "default.jpg", 1000, 800).canonical() == "full/max/0/default.jpg"
    assert parse("0,0,500,500", "250,", "!90.50", "gray.png", 1000, 800).canonical() == "0,0,500,500/250,250/!90.5/gray.png"


# ---- HTTP ---------------------------------------------------------------------------------
@pytest.fixture
def photo(builder):
    im, words = text_page(["廣州街坊報"], size=(1000, 800))
    return builder.item([(im, words, "廣州街坊報")]).image_ids[0]


def test_info_json(client, photo):
    r = client.get(f"/iiif/3/{photo}/info.json")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    info = r.get_json()
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["id"] == f"http://localhost/iiif/3/{photo}" and info["type"] == "ImageService3"
    assert info["profile"] == "level2" and (info["width"], info["height"]) == (1000, 800)
    assert info["tiles"] == [{"width": 256, "height": 256, "scaleFactors": [1, 2, 4]}]
    assert {"width": 250, "height": 200} in info["sizes"]
    assert info["maxWidth"] and info["maxArea"]
    assert set(info["extraFormats"]) >= {"webp", "tif"} and set(info["extraQualities"]) >= {"gray", "bitonal"}
    ld = client.get(f"/iiif/3/{photo}/info.json", headers={"Accept": "application/ld+json"})
    assert ld.headers["Content-Type"].startswith("application/ld+json")
    base = client.get(f"/iiif/3/{photo}")
    assert base.status_code == 303 and base.headers["Location"].endswith("/info.json")


def test_errors_have_cors_and_right_status(client, photo):
    cases = {
        f"/iiif/3/{photo}/full/max/0/default.xyz": 400,
        f"/iiif/3/{photo}/full/max/0/default.jp2": 501,
        f"/iiif/3/{photo}/full/max/45x/default.jpg": 400,
        f"/iiif/3/{photo}/5000,0,10,10/max/0/default.jpg": 400,
        "/iiif/3/no-such-image/full/max/0/default.jpg": 404,
        "/iiif/3/no-such-image/info.json": 404,
        "/iiif/3/a%2Fb/full/max/0/default.jpg": 404,
    }
    for url, status in cases.items():
        r = client.get(url)
        assert r.status_code == status, url
        assert r.headers["Access-Control-Allow-Origin"] == "*", url
        assert r.get_json()["error"], url


def test_formats_qualities_rotation(client, photo):
    def get(path):
        r = client.get(f"/iiif/3/{photo}/{path}")
        assert r.status_code == 200, (path, r.data[:200])
        return r, Image.open(io.BytesIO(r.data))

    for fmt, pil in (("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("tif", "TIFF"), ("gif", "GIF")):
        r, im = get(f"full/200,/0/default.{fmt}")
        assert im.format == pil and im.size == (200, 160)
        assert r.headers["Content-Type"].startswith("image/")
    _, im = get("full/200,/0/gray.png")
    assert im.mode == "L"
    _, im = get("full/200,/0/bitonal.png")
    assert set(im.convert("L").getdata()) <= {0, 255}
    _, im = get("full/200,/90/default.png")
    assert im.size == (160, 200)
    _, im = get("full/200,/45/default.png")
    assert im.size[0] > 200 and im.mode == "RGBA"  # transparent corners
    # mirroring: the black text at the left moves to the right
    _, plain = get("full/200,/0/gray.png")
    _, mirrored = get("full/200,/!0/gray.png")
    assert plain.transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes() == mirrored.tobytes()


def test_etag_cache_control_link_and_tile_cache(client, photo, settings):
    url = f"/iiif/3/{photo}/0,0,256,256/256,/0/default.jpg"
    first = client.get(url)
    assert first.status_code == 200
    assert "public" in first.headers["Cache-Control"] and "max-age" in first.headers["Cache-Control"]
    assert 'rel="canonical"' in first.headers["Link"] and "level2.json" in first.headers["Link"]
    etag = first.headers["ETag"]
    cached_files = list((settings.cache_dir / "tiles").glob("??/*"))
    assert len(cached_files) == 1 and cached_files[0].read_bytes() == first.data
    second = client.get(url)
    assert second.data == first.data and second.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    # a different request path that is canonically the same hits the same cache entry
    client.get(f"/iiif/3/{photo}/pct:0,0,25.6,32/256,/0/default.jpg")
    assert len(list((settings.cache_dir / "tiles").glob("??/*"))) == 1


def test_conditional_and_range_requests_on_cached_tiles(client, photo, settings):
    url = f"/iiif/3/{photo}/0,0,256,256/256,/0/default.jpg"
    first = client.get(url)
    etag = first.headers["ETag"]
    tiles = settings.cache_dir / "tiles"
    for f in tiles.glob("??/*"):
        f.unlink()  # evicted: a matching ETag is still answered 304, without rendering again
    r = client.get(url, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == etag
    assert r.headers["Cache-Control"] == "public, max-age=3600" and 'rel="canonical"' in r.headers["Link"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert not list(tiles.glob("??/*"))
    stale = client.get(url, headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200 and stale.data == first.data and "Last-Modified" not in stale.headers
    part = client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == first.data[:10]


@pytest.mark.parametrize("change", ["unpublish", "trash"])
def test_cached_tile_is_404_once_the_item_is_hidden(change, client, builder, settings):
    """A tile cached while the item was public is 404 (not 200, not 304) on the next request after
    another process unpublishes or trashes the item: nothing caches the access decision."""
    from repository import Repository
    from repository.models import Item, utcnow

    im, words = text_page(["廣州街坊報"], size=(1000, 800))
    built = builder.item([(im, words, "廣州街坊報")])
    url = f"/iiif/3/{built.image_ids[0]}/0,0,256,256/256,/0/default.jpg"
    first = client.get(url)
    assert first.status_code == 200 and client.get(url).status_code == 200  # rendered, then cached
    assert list((settings.cache_dir / "tiles").glob("??/*"))
    other = Repository.open(settings)  # its own engine and connections, as another process has
    try:
        with other.db.transaction() as s:
            item = s.get(Item, built.item_id)
            if change == "unpublish":
                item.state = "draft"
            else:
                item.deleted_at = utcnow()  # trash alone hides it, whatever the state says
    finally:
        other.db.dispose()
    for headers in ({}, {"If-None-Match": first.headers["ETag"]}):
        r = client.get(url, headers=headers)
        assert r.status_code == 404, (headers, r.status_code)
        assert r.headers["Access-Control-Allow-Origin"] == "*" and first.data not in r.data
    assert client.get(f"/iiif/3/{built.image_ids[0]}/info.json").status_code == 404


def test_tile_cache_is_bounded(tmp_path):
    cache = TileCache(tmp_path / "tiles", limit=100_000)
    for i in range(40):
        cache.put(cache.key("a" * 64, f"tile-{i}"), bytes(10_000))
    assert cache.total_bytes() <= 100_000
    assert cache.get(cache.key("a" * 64, "tile-39")) is not None  # the newest survive
    assert cache.get(cache.key("a" * 64, "tile-0")) is None


def test_pyramid_matches_pillow_rendering(builder, client, app, settings):
    """A 2.4 MP image goes through the libvips pyramid; its tiles show the same content."""
    im = Image.new("RGB", (2000, 1200), (250, 250, 250))
    im.paste((200, 30, 30), (1024, 512, 1280, 768))  # one red tile-sized block
    image_id = builder.item([(im, [], "")]).image_ids[0]
    r = client.get(f"/iiif/3/{image_id}/1024,512,256,256/256,/0/default.png")
    tile = Image.open(io.BytesIO(r.data)).convert("RGB")
    assert any((settings.cache_dir / "pyramids").rglob("*.tif"))
    px = tile.getpixel((128, 128))
    assert abs(px[0] - 200) < 12 and px[1] < 50 and px[2] < 50
    small = Image.open(io.BytesIO(client.get(f"/iiif/3/{image_id}/full/500,/0/default.png").data)).convert("RGB")
    assert small.size == (500, 300)
    red = small.getpixel((256 + 32, 128 + 32))
    assert red[0] > 150 and red[1] < 90


MEMORY_PROBE = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from web.iiif.image import parse, render
    from web.iiif.sources import ensure_pyramid, pyramid_reader
    src, cache, w, h = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    t = time.time()
    pyr = ensure_pyramid(cache, src, "c" * 64)
    build = time.time() - t
    read = pyramid_reader(pyr, w, h)
    out = {{}}
    for name, region, size in (("tile", "0,0,256,256", "256,"), ("middle", f"{{w//2}},{{h//2}},512,512", "256,"),
                               ("overview", "full", "1000,")):
        data = render(parse(region, size, "0", "default.png", w, h), read)
        out[name] = data.hex()
    out["build_s"] = build
    # VmHWM: this process's own peak RSS (ru_maxrss would carry the parent's peak over exec)
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    out["maxrss_mb"] = int(hwm.split()[1]) / 1024
    print(json.dumps(out))
""")


def _probe(src: Path, cache: Path, w: int, h: int) -> dict:
    res = subprocess.run([sys.executable, "-c", MEMORY_PROBE.format(root=str(ROOT)), str(src), str(cache), str(w), str(h)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def test_big_generated_scan_is_memory_bounded(tmp_path):
    """A 12 000 × 12 000 RGB scan (432 MB decoded) is served with far less memory than that."""
    import pyvips

    w = h = 12_000
    base = (pyvips.Image.black(w, h, bands=3) + [245, 240, 230]).cast("uchar")
    block = (pyvips.Image.black(512, 512, bands=3) + [30, 30, 200]).cast("uchar")
    src = tmp_path / "newspaper.jpg"
    base.insert(block, w // 2, h // 2).jpegsave(str(src), Q=75)
    out = _probe(src, tmp_path / "cache", w, h)
    tile = Image.open(io.BytesIO(bytes.fromhex(out["tile"]))).convert("RGB")
    assert tile.size == (256, 256) and tile.getpixel((10, 10))[0] > 230
    middle = Image.open(io.BytesIO(bytes.fromhex(out["middle"]))).convert("RGB")
    assert middle.getpixel((128, 128))[2] > 170 and middle.getpixel((128, 128))[0] < 80
    overview = Image.open(io.BytesIO(bytes.fromhex(out["overview"])))
    assert overview.size == (1000, 1000)
    print("peak RSS MB", out["maxrss_mb"], "pyramid build s", out["build_s"])
    assert out["maxrss_mb"] < 250, out["maxrss_mb"]  # measured ~130-180 MB


@pytest.mark.slow
def test_shared_red_19000_png_is_memory_bounded(tmp_path, shared_data):
    src = shared_data / "iiif" / "red-19000x19000.png"
    out = _probe(src, tmp_path / "cache", 19000, 19000)  # 1 GB if decoded whole
    tile = Image.open(io.BytesIO(bytes.fromhex(out["tile"]))).convert("RGB")
    r, g, b = tile.getpixel((100, 100))
    assert r > 200 and g < 60 and b < 60
    print("peak RSS MB", out["maxrss_mb"], "pyramid build s", out["build_s"])
    assert out["maxrss_mb"] < 250, out["maxrss_mb"]  # measured ~130-180 MB


def test_iiif_warm_builds_pyramids(builder, cli, settings):
    big = Image.new("RGB", (2000, 1500), (10, 120, 200))
    small, words = text_page(["小"])
    built = builder.item([(big, [], ""), (small, words, "小")])
    r = cli("iiif-warm", str(built.item_id))
    assert r.code == 0, r
    assert "pyramids built: 1" in r.out and "small images served directly: 1" in r.out
    assert len(list((settings.cache_dir / "pyramids").rglob("*.tif"))) == 1
    again = cli("iiif-warm")
    assert "pyramids built: 0" in again.out
    (pyramid,) = (settings.cache_dir / "pyramids").rglob("*.tif")
    pyramid.write_bytes(b"damaged")  # e.g. a disk error: --force builds it again
    forced = cli("iiif-warm", "--force", str(built.item_id))
    assert forced.code == 0 and "pyramids built: 1" in forced.out
    assert pyramid.read_bytes()[:4] in (b"II+\x00", b"MM\x00+")  # a BigTIFF again
    assert not list((settings.cache_dir / "pyramids").rglob("*.lock"))  # no lock files left behind
    bad = cli("iiif-warm", "abc")
    assert bad.code != 0 and bad.err.strip()


def test_hostile_requests_never_500(client, photo):
    paths = ["99999999999999999999,0,1,1/max/0/default.jpg", "0,0,99999999999999999999,1/max/0/default.jpg",
             "full/^99999999999999999999,/0/default.jpg", "full/pct:0.0000001/0/default.jpg",
             "full/max/360.0000001/default.jpg", "full/max/0/default.jpg.jpg", "full/max/0/.jpg",
             "pct:99.99999,99.99999,100,100/max/0/default.png", "full/!1,99999/0/default.jpg",
             "full/max/1e3/default.jpg", "full/max/0/default.JPG", "square/max/!/default.jpg",
             "full/%E5%BB%A3/0/default.jpg", "full/max/0/gray.webp", "full/^!99999,1/0/bitonal.tif"]
    for p in paths:
        r = client.get(f"/iiif/3/{photo}/{p}")
        assert r.status_code in (200, 400, 501), (p, r.status_code, r.data[:200])
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    for image_id in ("x" * 200, "%E5%BB%A3", "..%2F..%2Fetc", "[frob]"):
        assert client.get(f"/iiif/3/{image_id}/info.json").status_code in (400, 404)
