"""Pyramidal derivatives of big page images, for the IIIF image server (:mod:`web.iiif.sources`).

A page image with more than :data:`PYRAMID_MIN_PIXELS` pixels is served from a pyramidal, tiled,
JPEG-compressed TIFF made with libvips (pyvips): a tile request then decodes only the few 256 px
tiles of the nearest pyramid level, and memory stays bounded for 20 000 × 20 000 newspaper scans
(libvips streams while it builds the pyramid).

The scan job builds the pyramid of each big page while it makes the page (in the page's thread,
into the job's work directory) and puts it in place only after the page's row and files are
committed; a page that fails, a commit that is rolled back or a killed worker leaves no pyramid
behind, and the pyramids of an item whose ingest ends failed are removed again. Pyramids live
beside the other derived caches, under ``<cache_dir>/pyramids/<aa>/<sha256>.tif``, named by the
SHA-256 of the page image they were made from, so they are never stale; the image server (or
``heritage iiif-warm``) builds a missing one on demand with :func:`ensure_pyramid`.

Here rather than in ``web``: imports run ``web → ingest → repository``, and ingest must build it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from repository import Repository

#: Images with more pixels than this are served through a pyramid (0 = always, None = never).
#: The image server and the scan job use this same threshold.
PYRAMID_MIN_PIXELS: int | None = 2_000_000
TILE = 256
log = logging.getLogger("heritage.pyramid")


def needs_pyramid(width: int, height: int, min_pixels: int | None = PYRAMID_MIN_PIXELS) -> bool:
    """Whether a ``width`` × ``height`` image is served through a pyramid."""
    return min_pixels is not None and width * height > min_pixels


def pyvips_available() -> bool:
    try:
        import pyvips  # noqa: F401
    except (ImportError, OSError):  # the Python package or libvips itself is missing
        return False
    return True


def pyramid_path(cache_dir: Path, sha256: str) -> Path:
    """Where the pyramid of the image with content hash ``sha256`` lives."""
    return Path(cache_dir) / "pyramids" / sha256[:2] / f"{sha256}.tif"


def build_pyramid(source: Path, target: Path) -> Path:
    """Write the pyramidal TIFF of ``source`` to ``target`` (streamed; memory stays bounded)."""
    import pyvips

    im = pyvips.Image.new_from_file(str(source), access="sequential")
    if im.hasalpha():
        im = im.flatten(background=[255])
    if im.bands == 2:
        im = im.extract_band(0)
    im.tiffsave(str(target), tile=True, tile_width=TILE, tile_height=TILE, pyramid=True,
                compression="jpeg", Q=90, bigtiff=True)
    return target


def ensure_pyramid(cache_dir: Path, source: Path, sha256: str, *, rebuild: bool = False) -> Path:
    """Build (once, under a file lock shared by every process) the pyramid of ``source``;
    ``rebuild`` builds it again even if it exists (readers keep the old file until the rename)."""
    target = pyramid_path(cache_dir, sha256)
    if target.is_file() and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(target):
        if target.is_file() and not rebuild:
            return target  # another process built it while this one waited
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tif", dir=target.parent)
        os.close(fd)
        try:
            build_pyramid(source, Path(tmp))
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return target


@contextlib.contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``<target>.lock``, removed again by its holder.

    The usual pattern for lock files that do not pile up (one per big page otherwise): a waiter
    that gets the lock on a file its previous holder has meanwhile unlinked (the path now missing
    or naming a newer file) has locked nothing anyone else will see, so it opens the path again.
    """
    path = target.with_suffix(".lock")
    while True:
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino
            except FileNotFoundError:
                current = False
            if not current:
                continue
            try:
                yield
                return
            finally:
                path.unlink(missing_ok=True)  # still holding the lock: the next holder re-opens


def install_pyramid(cache_dir: Path, built: Path, sha256: str) -> bool:
    """Move a pyramid built elsewhere (the scan job's work directory) into place for ``sha256``.

    Returns True if it was put in place, False if one was already there (``built`` is removed).
    A rename, so readers never see half a file (the job's work directory is under ``cache_dir``;
    across file systems it is copied next to the target first).
    """
    target = pyramid_path(cache_dir, sha256)
    if target.is_file():
        built.unlink(missing_ok=True)
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(built, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tif", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(built, tmp)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
            built.unlink(missing_ok=True)
    return True


def remove_pyramid(cache_dir: Path, sha256: str) -> None:
    pyramid_path(cache_dir, sha256).unlink(missing_ok=True)


def build_for_page(image: Path, width: int, height: int, stem: Path) -> Path | None:
    """At ingest (in the page's thread): the pyramid of a big page image, written next to the
    page's other derivatives in the job's work directory (``<stem>.pyramid.tif``).

    None for a small image or without libvips. A failure is logged, not fatal to the page: the
    pyramid is a speed-up, and the image server builds a missing one on demand.
    """
    if not needs_pyramid(width, height) or not pyvips_available():
        return None
    import pyvips

    target = stem.with_suffix(".pyramid.tif")
    try:
        return build_pyramid(image, target)
    except (pyvips.Error, OSError) as exc:
        log.warning("pyramid of %s not built at ingest (%s); the image server will build it", image.name,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        target.unlink(missing_ok=True)
        return None


def ensure_item_pyramids(repo: "Repository", item_id: int) -> list[str]:
    """Build the missing pyramids of an item's big page images (pages a resumed or retried scan job
    made in an earlier run); returns the SHA-256s of those built."""
    from sqlalchemy import select

    from repository.models import File, Page

    with repo.session() as s:
        rows = s.execute(select(Page.width, Page.height, File.sha256)
                         .join(File, (File.page_id == Page.id) & (File.role == "page_image"))
                         .where(Page.item_id == item_id)).all()
    built = []
    cache_dir = repo.settings.cache_dir
    for width, height, sha in rows:
        if width and height and needs_pyramid(width, height) and not pyramid_path(cache_dir, sha).is_file() \
                and pyvips_available():
            ensure_pyramid(cache_dir, repo.store.path(sha), sha)
            built.append(sha)
    return built
