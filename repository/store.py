"""Content-addressed object store for originals and derivatives.

Layout: ``<root>/<aa>/<bb>/<sha256>``. Writes go to a temporary file in the same directory,
are fsynced and renamed into place, so a reader never sees half a file and a crash leaves at
most a ``.tmp-*`` file that :meth:`ObjectStore.sweep_temp` removes. The same bytes are stored once.
"""
from __future__ import annotations

import errno
import hashlib
import io
import mmap
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from config import InvalidInput

#: read/hash/write buffer. Measured on a 430 MB file (read, SHA-256, write, fsync): 256 KiB costs
#: 0.56 s of CPU, 1 MiB 1.56 s, 4 MiB 2.2 s — a buffer that stays in the CPU cache between hashing
#: and writing is about three times cheaper.
CHUNK = 256 * 1024
#: slice of a memory-mapped file handed to hashlib at a time (releases the GIL for each)
MAP_CHUNK = 4 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    path: Path
    created: bool  # False when identical bytes were already stored


_HOST = socket.gethostname().replace("@", "_")


def _temp_prefix() -> str:
    """Temp names say who writes them: ``.tmp-<pid>@<host>-<random>`` (pid now: forks differ)."""
    return f".tmp-{os.getpid()}@{_HOST}-"


def _writer_gone(name: str) -> bool:
    """True if ``name`` (a temp file's) was written by a process of this host that has ended."""
    pid, sep, rest = name[len(".tmp-"):].partition("@")
    if not sep or not pid.isdigit() or rest.rpartition("-")[0] != _HOST:
        return False  # another host's, or an old-style name: age decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ObjectStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):  # a regex: this runs on every IIIF tile request
            raise InvalidInput(f"not a SHA-256 identifier: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_stream(self, stream: BinaryIO) -> StoredObject:
        """Store everything read from ``stream`` (never held in memory whole)."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(), dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                # one reused buffer: each byte is read once, hashed and written (hashlib releases
                # the GIL on buffers this size, so another thread's work overlaps)
                buf = bytearray(CHUNK)
                view = memoryview(buf)
                readinto = stream.readinto if isinstance(stream, (io.BufferedReader, io.FileIO)) else None
                while True:
                    if readinto is not None:
                        n = readinto(buf)
                        chunk = view[:n] if n else b""
                    else:
                        chunk = stream.read(CHUNK)
                        n = len(chunk)
                    if not n:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    size += n
                os.fsync(out.fileno())
            return self._place(tmp, digest.hexdigest(), size)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _place(self, tmp: Path, sha: str, size: int) -> StoredObject:
        """Rename the fsynced ``tmp`` (in the store's file system) into place, or drop it if the
        same bytes are already stored."""
        final = self.path(sha)
        if final.is_file():
            tmp.unlink()
            return StoredObject(sha, size, final, created=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
        return StoredObject(sha, size, final, created=True)

    def put_file(self, src: Path | str, *, move: bool = False,
                 digest: tuple[str, int] | None = None) -> StoredObject:
        """Store a file's bytes. With ``move`` the file is *taken*: hashed where it is (one read),
        fsynced and renamed into the store instead of copied — for derivatives made in a work
        directory and uploads in the data directory's temporary directory (same file system); on
        another file system it is copied and removed. ``digest`` = (sha256, size) from
        :meth:`digest_file` of the same, unchanged file (with ``move`` only): it is not read again.

        A crash before the rename leaves the file where it was (work and upload directories are
        swept), never a partial object in the store: the rename into place is atomic and comes
        after the fsync."""
        src = Path(src)
        if not src.is_file():
            raise InvalidInput(f"no such file: {src}")
        if move:
            sha, size = digest or self.digest_file(src)
            try:
                return self._place(src, sha, size)
            except OSError as exc:  # another file system: copy, then drop the source
                if exc.errno != errno.EXDEV:
                    raise
                os.chmod(src, 0o644)
                with open(src, "rb") as fh:
                    obj = self.put_stream(fh)
                if obj.sha256 != sha:
                    raise InvalidInput(f"{src.name} changed while it was being stored")
                src.unlink()
                return obj
        with open(src, "rb") as fh:
            return self.put_stream(fh)

    def digest_file(self, src: Path | str) -> tuple[str, int]:
        """(SHA-256, size) of a file, read once, and the file fsynced.

        The fsync runs in a helper thread at the same time as the hashing (both release the GIL):
        the kernel writes the dirty pages back while the hash reads them from the page cache, so a
        just-written file costs max(hash, write-back) instead of their sum. Threads rather than a
        library because it is two system calls on one file. For a file nobody else writes to
        (see below)."""
        digest = hashlib.sha256()
        with open(src, "rb", buffering=0) as fh:
            size = os.fstat(fh.fileno()).st_size
            synced: list[BaseException | None] = []

            def sync() -> None:
                try:
                    os.fsync(fh.fileno())
                    synced.append(None)
                except BaseException as exc:  # re-raised below, in the caller's thread
                    synced.append(exc)

            syncer = threading.Thread(target=sync, name="store-fsync", daemon=True)
            syncer.start()
            try:
                if size:
                    # hashed straight from the page cache through a read-only mapping (no copy into a
                    # buffer: 0.35 s instead of 0.39 s of CPU for a 430 MB web copy), in MAP_CHUNK
                    # slices. Only for files the caller owns and nobody truncates meanwhile (a work
                    # directory's derivative, our own upload copy): a mapped file cut short faults.
                    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                        with memoryview(mapped) as view:
                            for at in range(0, len(view), MAP_CHUNK):
                                digest.update(view[at:at + MAP_CHUNK])
                        size = len(mapped)
            finally:
                syncer.join()
            if synced and synced[0] is not None:
                raise synced[0]
        return digest.hexdigest(), size

    def put_bytes(self, data: bytes) -> StoredObject:
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

    def sweep_temp(self, older_than: float = 3600.0) -> int:
        """Remove temporary files left by a crash mid-write; returns how many.

        Another process (an intake, a worker on another host) may be writing one right now, so a
        temp file goes only if the process that writes it is gone: its name carries the writer's
        pid and host — on this host the pid is checked; a file of another host (shared storage) goes
        once untouched for ``older_than`` seconds (a write in progress keeps its mtime fresh)."""
        n = 0
        if self.root.is_dir():
            cutoff = time.time() - older_than
            for p in self.root.glob(".tmp-*"):
                try:
                    if not _writer_gone(p.name) and p.stat().st_mtime > cutoff:
                        continue
                    p.unlink()
                except FileNotFoundError:  # finished (renamed into place) meanwhile
                    continue
                n += 1
        return n

    def copy_out(self, sha256: str, dest: Path) -> None:
        shutil.copyfile(self.path(sha256), dest)
