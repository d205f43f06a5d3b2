"""Benchmark: the scan pipeline against bare ``tesseract`` on the same pages.

Prints
* the sum of bare ``tesseract PAGE out -l MODEL --psm N hocr`` runs (one per page, the right
  model for the page, one core each: OMP_THREAD_LIMIT=1) — the floor any OCR pipeline pays;
* the pipeline's wall time for the same pages as one item (decode, page image + thumbnail, OCR
  with hOCR char boxes, hOCR parsing, ALTO, per-page commits, search indexing), run with one page
  at a time, with a fixed model (``--lang``) and with ``auto`` (which may read a page twice);
  and the ratios to the bare sum (target ≤ 1.10 for the fixed model, serial);
* the speed-up from parallel pages (``worker_processes`` = number of cores) over serial.

Usage: python bench/ocr.py [--pages 8] [--simplified 2] [--sentences 40] [--width 2000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import sys

os.environ["OMP_THREAD_LIMIT"] = "1"
# run as a script, bench/ is sys.path[0] and bench/search.py would shadow the search package
sys.path[0] = str(Path(__file__).resolve().parents[1])


from PIL import Image  # noqa: E402


def make_pages(d: Path, n_trad: int, n_simp: int, sentences: int, width: int) -> list[tuple[Path, str]]:
    from ingest.samples import sample_page

    pages = []
    for i in range(n_trad + n_simp):
        kind = "trad" if i < n_trad else "simp"
        img, _ = sample_page(kind, seed=200 + i, n_sentences=sentences, width=width, font_size=44)
        p = d / f"page-{i + 1:03d}.png"
        img.save(p)
        pages.append((p, "chi_tra" if kind == "trad" else "chi_sim"))
    return pages


CPU: dict[str, float] = {}  # label -> CPU seconds (this process + children) of the last run


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (tesseract). Unlike wall
    time this hardly changes when other people load the machine, so it is printed too."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bare(pages: list[tuple[Path, str]], out: Path) -> float:
    total = 0.0
    c = _cpu()
    for p, model in pages:
        t = time.perf_counter()
        subprocess.run(["tesseract", str(p), str(out / p.stem), "-l", model, "--psm", "3", "--dpi", "300", "hocr"],
                       check=True, capture_output=True)
        total += time.perf_counter() - t
    CPU["bare"] = _cpu() - c
    return total


def pipeline(pages: list[tuple[Path, str]], work: Path, *, workers: int, lang: str) -> float:
    from config import load_settings
    from ingest.intake import IngestOptions, ingest_paths, wait_for
    from repository import Repository, catalog

    work.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(dir=work))
    settings = load_settings(env={}, data_dir=data, worker_processes=workers)
    repo = Repository.open(settings, create=True)
    with repo.unit_of_work("bench") as uow:
        catalog.add_collection(uow.session, "bench", "Bench")
    book = work / "book"
    if not book.exists():
        book.mkdir()
        for p, _ in pages:
            shutil.copy(p, book / p.name)
    t, c = time.perf_counter(), _cpu()
    created = ingest_paths(repo, [book], IngestOptions(collection="bench", lang=lang))
    jobs = wait_for(repo, [j for _, j in created])
    elapsed = time.perf_counter() - t
    CPU["pipeline"] = _cpu() - c
    assert all(j.state == "done" for j in jobs), [j.error for j in jobs]
    repo.db.dispose()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=8, help="number of pages (traditional + simplified)")
    ap.add_argument("--simplified", type=int, default=2, help="how many of them are simplified")
    ap.add_argument("--sentences", type=int, default=40, help="sentences per page (40 ≈ 650 characters)")
    ap.add_argument("--width", type=int, default=2000, help="page width in pixels (2000 ≈ 17 cm at 300 dpi)")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pages = make_pages(work, args.pages - args.simplified, args.simplified, args.sentences, args.width)
        out = work / "bare"
        out.mkdir()
        size = Image.open(pages[0][0]).size
        print(f"{len(pages)} pages of {size[0]}x{size[1]} px ({args.simplified} simplified), {cores} cores; "
              f"load average {os.getloadavg()[0]:.1f}")
        pipeline(pages[:1], work / "warmup", workers=1, lang="chi_tra")  # imports, index creation
        # bare and pipeline alternate, best of 2 each: the machine is shared, load drifts
        trad_only = [(p, m) for p, m in pages if m == "chi_tra"]
        bare_trad = fixed = float("inf")
        cpu_bare = cpu_fixed = float("inf")
        for r in range(2):
            bare_trad = min(bare_trad, bare(trad_only, out))
            cpu_bare = min(cpu_bare, CPU["bare"])
            fixed = min(fixed, pipeline(trad_only, work / f"fixed{r}", workers=1, lang="chi_tra"))
            cpu_fixed = min(cpu_fixed, CPU["pipeline"])
        print(f"bare tesseract, sum of {len(trad_only)} runs (chi_tra):            {bare_trad:7.2f} s wall, "
              f"{cpu_bare:6.2f} s CPU")
        print(f"pipeline, --lang chi_tra, serial, same pages:           {fixed:7.2f} s wall = {fixed / bare_trad:.2f} x bare; "
              f"{cpu_fixed:6.2f} s CPU = {cpu_fixed / cpu_bare:.2f} x bare")
        bare_sum = bare(pages, out)
        cpu_bare_all = CPU["bare"]
        serial = pipeline(pages, work / "auto1", workers=1, lang="auto")
        print(f"bare tesseract, sum of {len(pages)} runs (right model per page): {bare_sum:7.2f} s wall, "
              f"{cpu_bare_all:6.2f} s CPU")
        print(f"pipeline, auto, serial (1 page at a time):              {serial:7.2f} s wall = {serial / bare_sum:.2f} x bare; "
              f"{CPU['pipeline']:6.2f} s CPU = {CPU['pipeline'] / cpu_bare_all:.2f} x bare")
        parallel = pipeline(pages, work / "autoN", workers=cores, lang="auto")
        print(f"pipeline, auto, parallel ({cores} pages at a time):          {parallel:7.2f} s  = {parallel / bare_sum:.2f} x bare")
        print(f"speed-up from parallel pages: {serial / parallel:.2f} x on {cores} cores "
              f"(load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
