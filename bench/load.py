"""Load on loopback: N concurrent readers while one batch ingest runs.

    python bench/load.py [--seconds 60] [--readers 50] [--database-url postgresql://…]
                         [--search whoosh|elasticsearch] [--elasticsearch-url URL]

Starts the real product — `heritage serve` (gunicorn, gthread) and one `heritage worker` — on a
fresh data directory holding published scans and recordings, then runs ``--readers`` threads
that each loop over search (HTML and JSON), item pages, IIIF tiles, IIIF info.json and manifests
for ``--seconds`` while `heritage import-csv --wait`-style batch ingest (OCR of rendered Cantonese
pages + recordings) goes on in the worker. Every request has a timeout (bounded); any non-2xx/
3xx answer or exception is an error. Prints per-kind count, errors, p50/p95/max latency, the
requests per second, the server's peak memory, and how long the batch took. Exit status 1 when
there was any error.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if error:
                self.errors.setdefault(kind, []).append(error)

    @property
    def total_errors(self) -> int:
        return sum(len(v) for v in self.errors.values())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[k]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def heritage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    if check and r.returncode != 0:
        raise SystemExit(f"heritage {' '.join(args[:2])} failed: {r.stderr.strip()}")
    return r


def prepare(data_dir: Path, env: dict[str, str]) -> tuple[dict, Path]:
    """A data dir with published material to read, and a batch (CSV + files) to ingest."""
    os.environ.update(env)
    from tests.faults.conftest import build_env
    from tests.faults.world import build_world, index_world
    from ingest.samples import cantonese_sentences, render_text_page

    tmp = data_dir.parent
    wav = tmp / "tone.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=330:duration=2", str(wav)],
                   check=True, timeout=60)
    fenv = build_env(data_dir)
    world = build_world(fenv.repo, tmp / "world", wav.read_bytes())
    index_world(fenv.repo)
    targets = {
        "items": [t.id for t in world.things.values() if t.public],
        "images": [i for t in world.things.values() if t.public for i in t.image_ids],
    }
    fenv.repo.db.dispose()
    # the batch: rendered Cantonese pages (OCR) and recordings (transcode), published when ready
    batch = tmp / "batch"
    batch.mkdir()
    lines = cantonese_sentences(24)
    rows = ["file,title,collection,publish"]
    for i in range(6):
        img, _ = render_text_page("\n".join(lines[i * 4:(i + 1) * 4]), width=1000, font_size=40)
        img.save(batch / f"報紙{i + 1}.png")
        rows.append(f"報紙{i + 1}.png,粵語報紙第{i + 1}頁,c,yes")
    for i in range(3):
        shutil.copy(wav, batch / f"錄音{i + 1}.wav")
        rows.append(f"錄音{i + 1}.wav,口述歷史{i + 1},c,yes")
    (tmp / "batch.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return targets, batch


def reader(base: str, targets: dict, stats: Stats, stop: threading.Event, seed: int) -> None:
    rnd = random.Random(seed)
    s = requests.Session()
    queries = ["廣州", "广州", "嘅", "gwong zau", "PUBLICHERITAGE", "粵語"]
    while not stop.is_set():
        kind = rnd.choice(["search-html", "search-api", "item-page", "iiif-tile", "iiif-info", "manifest"])
        item = rnd.choice(targets["items"])
        image = rnd.choice(targets["images"]) if targets["images"] else None
        if kind == "search-html":
            url = f"/search?q={rnd.choice(queries)}"
        elif kind == "search-api":
            url = f"/api/search?q={rnd.choice(queries)}"
        elif kind == "item-page":
            url = f"/items/{item}"
        elif kind == "iiif-tile" and image:
            x, y = rnd.choice([0, 256, 512]), rnd.choice([0, 128])
            url = f"/iiif/3/{image}/{x},{y},256,256/256,/0/default.jpg"
        elif kind == "iiif-info" and image:
            url = f"/iiif/3/{image}/info.json"
        else:
            kind, url = "manifest", f"/iiif/manifest/{item}"
        t0 = time.perf_counter()
        error = None
        try:
            r = s.get(base + url, timeout=30)
            r.content  # noqa: B018  (read the whole body)
            if r.status_code >= 400:
                error = f"{r.status_code} {url}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__} {url}"
        stats.add(kind, time.perf_counter() - t0, error)


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (kB)."""
    total = 0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except FileNotFoundError:
        return 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not come up at {url}")


def run_load(seconds: float, readers: int, *, database_url: str | None = None, search: str = "whoosh",
             elasticsearch_url: str | None = None, threads: int = 16, quiet: bool = False) -> dict:
    """Run the load and return the figures (see module docstring)."""
    tmp = Path(tempfile.mkdtemp(prefix="heritage-load-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERITAGE_")}
    env.update(HERITAGE_DATA_DIR=str(data_dir), HERITAGE_SEARCH=search, HERITAGE_OCR_LANGUAGES="chi_tra",
               HERITAGE_WORKER_PROCESSES="1")
    if database_url:
        env["HERITAGE_DATABASE_URL"] = database_url
    if elasticsearch_url:
        env.update(HERITAGE_ELASTICSEARCH_URL=elasticsearch_url,
                   HERITAGE_ELASTICSEARCH_INDEX=f"load-{os.getpid()}-{int(time.time())}")
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    say(f"preparing {data_dir} …")
    targets, batch = prepare(data_dir, env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = open(tmp / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--threads", str(threads), "--no-worker"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=server_log, start_new_session=True)
    worker = subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--name", "load-worker"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stats = Stats()
    stop = threading.Event()
    figures: dict = {}
    try:
        wait_http(base + "/healthz")
        say(f"serving at {base}; {readers} readers for {seconds:.0f} s while a batch of 9 items is ingested")
        t_batch = time.monotonic()
        r = heritage(env, "import-csv", str(batch.parent / "batch.csv"), "--files", str(batch))
        item_ids = [int(x) for x in r.stdout.split()]
        pool = [threading.Thread(target=reader, args=(base, targets, stats, stop, i), daemon=True)
                for i in range(readers)]
        t0 = time.monotonic()
        for t in pool:
            t.start()
        peak = 0
        batch_done_at = None
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url or f"sqlite:///{data_dir / 'heritage.db'}")
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            peak = max(peak, rss_kb(server.pid))
            if batch_done_at is None:
                with engine.connect() as c:
                    left = c.execute(text("select count(*) from job where state in ('queued','running')")).scalar()
                if left == 0:
                    batch_done_at = time.monotonic() - t_batch
        stop.set()
        for t in pool:
            t.join(timeout=40)
        elapsed = time.monotonic() - t0
        with engine.connect() as c:
            states = dict(c.execute(text("select state, count(*) from item where id in (%s) group by state"
                                         % ",".join(map(str, item_ids)))).all())
        engine.dispose()
        n = sum(len(v) for v in stats.latencies.values())
        figures = {
            "requests": n, "errors": stats.total_errors, "rps": n / elapsed, "seconds": elapsed,
            "peak_rss_mb": peak / 1024, "batch_seconds": batch_done_at, "batch_items": len(item_ids),
            "batch_states": states,
            "kinds": {k: {"n": len(v), "errors": len(stats.errors.get(k, [])), "p50": percentile(v, .5),
                          "p95": percentile(v, .95), "max": max(v)} for k, v in sorted(stats.latencies.items())},
            "error_samples": [e for v in stats.errors.values() for e in v[:3]],
        }
        if stats.total_errors:  # why: the last exception lines the server logged
            log = (tmp / "server.log").read_text(errors="replace").splitlines()
            figures["server_errors"] = [line for line in log if "Error" in line or "error" in line][-8:]
    finally:
        stop.set()
        for p in (server, worker):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in (server, worker):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


def print_figures(f: dict, readers: int) -> None:
    print(f"\n{readers} concurrent readers, {f['seconds']:.0f} s: {f['requests']} requests "
          f"({f['rps']:.1f}/s), {f['errors']} errors; server peak RSS {f['peak_rss_mb']:.0f} MB")
    print(f"{'kind':<12} {'n':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for k, v in f["kinds"].items():
        print(f"{k:<12} {v['n']:>6} {v['errors']:>6} {v['p50'] * 1000:>8.0f} {v['p95'] * 1000:>8.0f} "
              f"{v['max'] * 1000:>8.0f}")
    took = f"{f['batch_seconds']:.0f} s" if f["batch_seconds"] is not None else "not finished within the run"
    print(f"batch ingest of {f['batch_items']} items (OCR + transcode) under load: {took}; states {f['batch_states']}")
    if f["error_samples"]:
        print("errors, e.g.:", "; ".join(f["error_samples"][:10]))
        print("server log:", *f.get("server_errors", []), sep="\n  ")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--threads", type=int, default=16, help="server request threads")
    ap.add_argument("--database-url", default=None, help="postgresql://… (default: SQLite in the data dir)")
    ap.add_argument("--search", default="whoosh", choices=["whoosh", "elasticsearch"])
    ap.add_argument("--elasticsearch-url", default=None)
    a = ap.parse_args(argv)
    f = run_load(a.seconds, a.readers, database_url=a.database_url, search=a.search,
                 elasticsearch_url=a.elasticsearch_url, threads=a.threads)
    print_figures(f, a.readers)
    return 1 if f["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
