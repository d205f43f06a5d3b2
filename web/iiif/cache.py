"""A bounded disk cache for rendered IIIF images (tiles, thumbnails).

Entries live under ``<cache_dir>/tiles/<aa>/<key>``; the key is the SHA-256 of the source
image's SHA-256 and the canonical request, so a changed image never serves stale pixels. When
the total passes ``limit`` bytes the least recently used entries (by mtime, refreshed on hits)
are removed until the cache is at 80 % of the limit. Writes are atomic (temp file + rename), so
several server processes can share one cache directory.

Written by hand: the disk caches on PyPI (diskcache …) keep their index in SQLite, which adds a
write per hit; a directory of files that ``send_file`` can stream is all this needs.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path


class TileCache:
    """Files keyed by (source sha256, canonical request), bounded to ``limit`` bytes."""

    def __init__(self, root: Path, limit: int):
        self.root = Path(root)
        self._root = str(self.root)
        self.limit = limit
        self._size: int | None = None
        self._lock = threading.Lock()

    @staticmethod
    def key(sha256: str, canonical: str) -> str:
        return hashlib.sha256(f"{sha256}\n{canonical}".encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> str | None:
        """The cached file for ``key`` (its mtime refreshed at most once a minute), or None.

        A plain string path and one ``os.stat``: this is the hot path of every cached tile.
        """
        p = os.path.join(self._root, key[:2], key)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            return None
        now = time.time()
        if now - st.st_mtime > 60:
            try:
                os.utime(p, (now, now))
            except OSError:
                pass
        return p

    def put(self, key: str, data: bytes) -> Path | None:
        """Store ``data`` under ``key``; returns its path (None if caching is off or it is too big)."""
        if self.limit <= 0 or len(data) > self.limit // 4:
            return None
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._lock:
            if self._size is None:
                self._size = self.total_bytes()
            else:
                self._size += len(data)
            over = self._size > self.limit
        if over:
            self.evict()
        return p

    def total_bytes(self) -> int:
        total = 0
        if self.root.is_dir():
            for p in self.root.glob("??/*"):
                try:
                    total += p.stat().st_size
                except FileNotFoundError:
                    pass
        return total

    def evict(self) -> int:
        """Remove least recently used entries until at most 80 % of the limit; returns bytes freed."""
        with self._lock:
            entries = []
            for p in self.root.glob("??/*"):
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                entries.append((st.st_mtime, st.st_size, p))
            total = sum(e[1] for e in entries)
            goal = int(self.limit * 0.8)
            freed = 0
            for _mtime, size, p in sorted(entries, key=lambda e: e[0]):
                if total - freed <= goal:
                    break
                p.unlink(missing_ok=True)
                freed += size
            self._size = total - freed
            return freed
