"""Where a IIIF image's pixels come from: the page's stored image, or a pyramid made from it.

A Page's image is the File with role ``page_image`` (``File.page_id`` = page id). Access is
checked on every request through :mod:`repository.access` — a page of an unpublished item is
"not found", exactly like a page that does not exist.

Big images (more than :data:`PYRAMID_MIN_PIXELS`) are served from a pyramidal, tiled,
JPEG-compressed TIFF made with libvips (pyvips) and kept under ``<cache_dir>/pyramids``: a tile
request then decodes only the few 256 px tiles of the nearest pyramid level, and memory stays
bounded for 20 000 × 20 000 newspaper scans. The scan job builds it at ingest
(:mod:`ingest.scan.pyramid`, which owns the threshold and the layout); a missing one (an older
item, a cleared cache) is built here on first request. ``bench/iiif.py`` measures this against
decoding the original with Pillow.
"""
from __future__ import annotations

from flask_babel import gettext as _

import logging
import math
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import bindparam, select

from config import NotFound, Unavailable
from ingest.scan.pyramid import PYRAMID_MIN_PIXELS, ensure_pyramid, needs_pyramid
from repository import Repository
from repository.store import ObjectStore
from repository.access import Viewer, is_public_state, may_view
from repository.models import File, Item, Page
from web.iiif.image import RegionReader, pillow_reader

#: Without libvips, images above this are refused (503) rather than decoded whole with Pillow.
PILLOW_MAX_PIXELS = 60_000_000
log = logging.getLogger("heritage.iiif")


@dataclass(frozen=True)
class ImageSource:
    """One IIIF image as the image server needs it."""

    image_id: str
    sha256: str
    store: ObjectStore
    width: int
    height: int
    public: bool
    item_id: int
    page_n: int

    @property
    def path(self) -> Path:
        """The stored page image (built only when pixels are needed: not for cached tiles)."""
        return self.store.path(self.sha256)


_LOOKUP = (
    select(Page.width, Page.height, Page.n, Page.item_id, File.sha256, Item.state, Item.deleted_at,
           Item.institution_id)
    .join(File, (File.page_id == Page.id) & (File.role == "page_image"))
    .join(Item, Item.id == Page.item_id)
    .where(Page.image_id == bindparam("image_id"))
    .order_by(File.id.desc())
    .limit(1)
)


def find_source(repo: Repository, image_id: str, viewer: Viewer) -> ImageSource:
    """The image ``image_id`` if ``viewer`` may see it; :class:`NotFound` otherwise.

    One Core query per request on a pooled connection (tiles are many and small), never cached
    across requests: an item unpublished or trashed by any process is hidden from the next request
    on. The access decision is :func:`repository.access.may_view` (the rule behind ``can_view``)
    on the fetched column values, so no ORM object is built.
    """
    if len(image_id) > 64:
        raise NotFound(_("no such image"))
    with repo.db.engine.connect() as conn:
        row = conn.execute(_LOOKUP, {"image_id": image_id}).first()
    if row is None:
        raise NotFound(_("no such image"))
    width, height, n, item_id, sha, state, deleted_at, institution_id = row
    if not may_view(state, deleted_at, institution_id, viewer):
        raise NotFound(_("no such image"))
    if not width or not height:
        with Image.open(repo.store.path(sha)) as im:  # reads the header only
            width, height = im.size
    return ImageSource(image_id, sha, repo.store, width, height, is_public_state(state, deleted_at), item_id, n)


@lru_cache(maxsize=256)
def _pyramid_level(path: str, level: int, mtime: float):
    """An opened pyramid level (pyvips images are immutable and thread-safe, so they are shared)."""
    import pyvips

    n_pages = pyvips.Image.new_from_file(path, page=0).get_n_pages()
    return pyvips.Image.new_from_file(path, page=min(level, n_pages - 1), access="random")


def pyramid_reader(path: Path, width: int, height: int) -> RegionReader:
    """A :data:`RegionReader` over a pyramid: picks the smallest level still big enough."""
    mtime = path.stat().st_mtime

    def read(region: tuple[int, int, int, int], target: tuple[int, int]) -> Image.Image:
        x, y, w, h = region
        factor = min(w / target[0], h / target[1])
        level = int(math.floor(math.log2(factor))) if factor >= 2 else 0
        im = _pyramid_level(str(path), level, mtime)
        sx, sy = im.width / width, im.height / height
        left, top = int(x * sx), int(y * sy)
        right = min(im.width, max(left + 1, math.ceil((x + w) * sx)))
        bottom = min(im.height, max(top + 1, math.ceil((y + h) * sy)))
        part = im.crop(left, top, right - left, bottom - top)
        if part.width != target[0] or part.height != target[1]:
            part = part.resize(target[0] / part.width, vscale=target[1] / part.height, kernel="lanczos3")
            if part.width != target[0] or part.height != target[1]:
                part = part.gravity("north-west", target[0], target[1], extend="copy")
        if part.bands not in (1, 3):
            part = part.extract_band(0, n=3) if part.bands > 3 else part.extract_band(0)
        if part.format != "uchar":
            part = part.cast("uchar")
        mode = "RGB" if part.bands == 3 else "L"
        return Image.frombytes(mode, (part.width, part.height), part.write_to_memory())

    return read


def reader_for(source: ImageSource, cache_dir: Path, min_pixels: int | None = PYRAMID_MIN_PIXELS) -> RegionReader:
    """Choose how to read ``source``: through a pyramid when it is big, else Pillow."""
    pixels = source.width * source.height
    if needs_pyramid(source.width, source.height, min_pixels):
        try:
            import pyvips  # noqa: F401
        except (ImportError, OSError):  # libvips missing: small enough images still work via Pillow
            if pixels > PILLOW_MAX_PIXELS:
                raise Unavailable(_("this image is too big to serve without libvips; run scripts/setup.sh")) from None
            log.warning("pyvips/libvips not available; decoding %s with Pillow", source.image_id)
            return pillow_reader(str(source.path))
        return pyramid_reader(ensure_pyramid(cache_dir, source.path, source.sha256), source.width, source.height)
    return pillow_reader(str(source.path))
