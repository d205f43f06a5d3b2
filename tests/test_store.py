"""Object store: content-addressed, atomic, de-duplicated; every stored file has fixity + event."""
import hashlib
import io
import os
import time

import pytest
from sqlalchemy import select

from repository.models import Blob, Collection, Event, Item
from repository.store import ObjectStore


def test_same_bytes_are_stored_once(tmp_path):
    store = ObjectStore(tmp_path / "objects")
    a = store.put_bytes("廣州".encode())
    b = store.put_bytes("廣州".encode())
    assert a.sha256 == b.sha256 == hashlib.sha256("廣州".encode()).hexdigest()
    assert a.created and not b.created
    assert list(store.iter_objects()) == [a.sha256]
    assert a.path.read_bytes() == "廣州".encode()


def test_a_failed_write_leaves_no_file(tmp_path):
    store = ObjectStore(tmp_path / "objects")

    class Exploding(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise OSError("disk on fire")
            return super().read(4)

    with pytest.raises(OSError):
        store.put_stream(Exploding(b"0123456789"))
    assert list((tmp_path / "objects").rglob("*")) == []


def test_leftover_temp_files_are_swept(tmp_path):
    store = ObjectStore(tmp_path / "objects")
    store.put_bytes(b"x")
    crashed = store.root / ".tmp-crashed"
    crashed.write_bytes(b"half")
    an_hour_ago = time.time() - 3601
    os.utime(crashed, (an_hour_ago, an_hour_ago))
    assert store.sweep_temp() == 1
    assert not crashed.exists()


def test_a_temp_file_being_written_by_another_process_is_not_swept(tmp_path):
    # a worker starting up while an intake (or another host's worker) is storing a file: the
    # writer is alive (here: this very process), so its half-written file stays
    import subprocess
    import sys

    from repository.store import _temp_prefix

    store = ObjectStore(tmp_path / "objects")
    store.put_bytes(b"x")
    writing = store.root / f"{_temp_prefix()}abcd"
    writing.write_bytes(b"half")
    other_host = store.root / ".tmp-1@elsewhere-abcd"
    other_host.write_bytes(b"half")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    crashed = store.root / (_temp_prefix().replace(f"{os.getpid()}@", f"{dead}@") + "dead")
    crashed.write_bytes(b"half")
    assert store.sweep_temp() == 1  # only the one whose writer has ended
    assert writing.exists() and other_host.exists() and not crashed.exists()



def test_storing_records_fixity_and_an_audit_event(repo, tmp_path):
    src = tmp_path / "scan.png"
    src.write_bytes(b"\x89PNG fake but bytes")
    with repo.unit_of_work("cli") as uow:
        blob = uow.store_file(src)
    with repo.session() as s:
        row = s.get(Blob, blob.sha256)
        assert row.size == src.stat().st_size
        types = {e.type for e in s.scalars(select(Event).where(Event.sha256 == blob.sha256))}
    assert {"message digest calculation", "ingestion"} <= types
    assert repo.store.hash_of(blob.sha256) == hashlib.sha256(src.read_bytes()).hexdigest()


def test_a_failed_unit_of_work_removes_the_files_it_stored(repo, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"only in this transaction")
    with pytest.raises(RuntimeError):
        with repo.unit_of_work("cli") as uow:
            blob = uow.store_file(src)
            raise RuntimeError("derivative failed")
    assert not repo.store.exists(blob.sha256)
    with repo.session() as s:
        assert s.get(Blob, blob.sha256) is None


def test_a_failed_unit_of_work_keeps_bytes_that_were_already_stored(repo, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"shared bytes")
    with repo.unit_of_work("cli") as uow:
        kept = uow.store_file(src)
    with pytest.raises(RuntimeError):
        with repo.unit_of_work("cli") as uow:
            uow.store_file(src)
            raise RuntimeError("boom")
    assert repo.store.exists(kept.sha256)


def test_moving_a_file_in_hashes_it_once_and_takes_it(tmp_path):
    store = ObjectStore(tmp_path / "objects")
    data = b"web copy " * 300_000  # several chunks
    src = tmp_path / "work" / "access.mp4"
    src.parent.mkdir()
    src.write_bytes(data)
    obj = store.put_file(src, move=True)
    assert obj.created and obj.sha256 == hashlib.sha256(data).hexdigest() and obj.size == len(data)
    assert not src.exists() and store.hash_of(obj.sha256) == obj.sha256
    assert not list((tmp_path / "objects").glob(".tmp-*"))
    again = tmp_path / "work" / "again.mp4"
    again.write_bytes(data)
    assert store.put_file(again, move=True).created is False and not again.exists()


def test_a_file_hashed_in_place_first_is_moved_in_without_another_read(tmp_path):
    """digest_file (hash + fsync where the file is) then put_file(move=True, digest=...): the
    upload path checks the file while it is hashed and only then takes it."""
    store = ObjectStore(tmp_path / "objects")
    data = b"upload " * 200_000
    src = tmp_path / "upload" / "talk.wav"
    src.parent.mkdir()
    src.write_bytes(data)
    digest = store.digest_file(src)
    assert digest == (hashlib.sha256(data).hexdigest(), len(data)) and src.exists()  # not taken yet
    assert not store.root.exists() or not any(store.root.iterdir())  # nothing stored by hashing
    obj = store.put_file(src, move=True, digest=digest)
    assert obj.created and obj.sha256 == digest[0] and not src.exists()
    assert store.hash_of(obj.sha256) == obj.sha256


def test_an_object_stored_beside_a_failed_unit_of_work_is_discarded(repo, tmp_path):
    """A blob put into the store by a thread and handed to the unit of work goes with its rollback."""
    src = tmp_path / "derivative.bin"
    src.write_bytes(b"made while something else ran")
    obj = repo.store.put_file(src)
    with pytest.raises(RuntimeError):
        with repo.unit_of_work("test") as uow:
            uow.store_file(src, stored=obj)
            raise RuntimeError("boom")
    assert not repo.store.exists(obj.sha256)
    other = repo.store.put_file(src)
    repo.discard([other.sha256])
    assert not repo.store.exists(other.sha256)
