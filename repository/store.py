"""Content-addressed object store for originals and derivatives.

Layout: ``<root>/<aa>/<bb>/<sha256>``. Writes go to a temporary file in the same directory,
are fsynced and renamed into place, so a reader never sees half a file and a crash leaves at
most a ``.tmp-*`` file that :meth:`ObjectStore.sweep_temp` removes. The same bytes are stored once.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from config import InvalidInput

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    path: Path
    created: bool  # False when identical bytes were already stored


class ObjectStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidInput(f"not a SHA-256 identifier: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_stream(self, stream: BinaryIO) -> StoredObject:
        """Store everything read from ``stream`` (never held in memory whole)."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path(sha)
            if final.is_file():
                tmp.unlink()
                return StoredObject(sha, size, final, created=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            return StoredObject(sha, size, final, created=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_file(self, src: Path | str) -> StoredObject:
        src = Path(src)
        if not src.is_file():
            raise InvalidInput(f"no such file: {src}")
        with open(src, "rb") as fh:
            return self.put_stream(fh)

    def put_bytes(self, data: bytes) -> StoredObject:
        import io

        return self.put_stream(io.BytesIO(data))

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def hash_of(self, sha256: str) -> str | None:
        """Recompute the SHA-256 of a stored object, or None if it is missing."""
        p = self.path(sha256)
        if not p.is_file():
            return None
        digest = hashlib.sha256()
        with open(p, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def remove(self, sha256: str) -> None:
        p = self.path(sha256)
        p.unlink(missing_ok=True)

    def iter_objects(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for p in self.root.glob("??/??/*"):
            if p.is_file() and not p.name.startswith("."):
                yield p.name

    def sweep_temp(self) -> int:
        """Remove temporary files left by a crash mid-write; returns how many."""
        n = 0
        if self.root.is_dir():
            for p in self.root.glob(".tmp-*"):
                p.unlink(missing_ok=True)
                n += 1
        return n

    def copy_out(self, sha256: str, dest: Path) -> None:
        shutil.copyfile(self.path(sha256), dest)
