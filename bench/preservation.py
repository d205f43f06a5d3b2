"""Benchmark: fixity and backup against the bare tools on the same files.

Makes a fresh repository with N stored files of random bytes (S MiB each), then times

* **fixity** — ``repository.preservation.fixity.verify_all`` (hash + Blob update + one PREMIS
  event per file) against bare ``sha256sum`` over the same object files;
* **backup** — ``repository.preservation.backup.backup`` (SQLite online backup, verified copy,
  manifest) against bare ``cp -r`` of the data directory; and a second, incremental backup
  into the same directory.

``cp -r`` neither hashes nor writes a manifest, so backup's ratio is the price of verifying every
copy (the copy itself is made by the kernel, as cp does). Prints the ratios. Usage: ``python bench/preservation.py [--files 200] [--mib 1]``. Numbers depend
on the machine, its disk cache and its load.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--mib", type=float, default=1.0)
    args = ap.parse_args()

    from config import load_settings
    from repository import Repository, catalog
    from repository.models import Item
    from repository.preservation.backup import backup
    from repository.preservation.fixity import verify_all

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        repo = Repository.open(load_settings(data_dir=tmp / "data"), create=True)
        size = int(args.mib * 1024 * 1024)
        with repo.unit_of_work("bench") as uow:
            coll = catalog.add_collection(uow.session, "bench", "Bench")
            item = Item(collection=coll, title="bench", state="published")
            uow.session.add(item)
            uow.session.flush()
            for i in range(args.files):
                src = tmp / f"f{i}"
                src.write_bytes(os.urandom(size))
                uow.add_file(item, src, role="original", mime="application/octet-stream")
                src.unlink()
        objects = sorted(str(p) for p in repo.settings.objects_dir.glob("??/??/*"))
        total_mib = args.files * args.mib

        bare_hash = timed(lambda: subprocess.run(["sha256sum", *objects], check=True, stdout=subprocess.DEVNULL))
        ours_hash = timed(lambda: verify_all(repo))
        bare_copy = timed(lambda: subprocess.run(["cp", "-r", str(repo.settings.data_dir), str(tmp / "cp")], check=True))
        ours_copy = timed(lambda: backup(repo, tmp / "bk"))
        again = timed(lambda: backup(repo, tmp / "bk"))

        print(f"{args.files} files x {args.mib} MiB = {total_mib:.0f} MiB")
        print(f"fixity : sha256sum {bare_hash:6.2f} s | heritage fixity {ours_hash:6.2f} s | "
              f"ratio {ours_hash / bare_hash:5.2f}x | {total_mib / ours_hash:7.1f} MiB/s")
        print(f"backup : cp -r     {bare_copy:6.2f} s | heritage backup {ours_copy:6.2f} s | "
              f"ratio {ours_copy / bare_copy:5.2f}x | incremental re-run {again:5.2f} s "
              f"({again / ours_copy:.2f}x of the first)")
        repo.db.dispose()


if __name__ == "__main__":
    main()
