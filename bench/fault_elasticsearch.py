"""Fault case that takes minutes: Elasticsearch killed (SIGKILL) and restarted during a batch ingest.

    python bench/fault_elasticsearch.py [--items 8] [--workers 2]

Starts its own Elasticsearch node (scripts/elasticsearch.sh with its own PORT, so the node other
tests share is never touched), a fresh data directory in Elasticsearch mode, and ``--workers``
`heritage worker` processes; runs `heritage import-csv` of rendered Cantonese pages (OCR) and
recordings (transcode), kills the node with SIGKILL while the batch is being processed, checks
that ingest goes on (the search outbox keeps the index changes, `heritage search` fails with one
clean line), starts the node again and waits until the index has caught up. Then every item must
be found exactly once, the outbox must be empty and every job done. Prints the figures; exit
status 1 when anything was lost. (Starting a node takes ~1 minute on a busy 2-core machine,
which is why this lives in bench/ and not in the test command.)
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port_pair  # noqa: E402
SCRIPT = ROOT / "scripts" / "elasticsearch.sh"


def es_cache() -> Path:
    default = (Path("/var/cache/heritage/elasticsearch") if os.geteuid() == 0 else
               Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "heritage/elasticsearch")
    return Path(os.environ.get("HERITAGE_ES_CACHE", default))


def node(cmd: str, port: int) -> None:
    subprocess.run(["bash", str(SCRIPT), cmd], check=True, timeout=900, env={**os.environ, "PORT": str(port)},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def heritage(env, *args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    if check and r.returncode != 0:
        raise SystemExit(f"heritage {' '.join(args[:2])}: {r.stderr.strip()}")
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    from sqlalchemy import create_engine, text

    from ingest.samples import cantonese_sentences, render_text_page

    port = free_port_pair()
    url = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="heritage-esfault-"))
    data = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERITAGE_")}
    env.update(HERITAGE_DATA_DIR=str(data), HERITAGE_SEARCH="elasticsearch", HERITAGE_ELASTICSEARCH_URL=url,
               HERITAGE_ELASTICSEARCH_INDEX="esfault", HERITAGE_OCR_LANGUAGES="chi_tra", HERITAGE_WORKER_PROCESSES="1")
    workers: list[subprocess.Popen] = []
    ok = False
    t_all = time.monotonic()
    try:
        t0 = time.monotonic()
        node("start", port)
        print(f"own Elasticsearch node at {url} started in {time.monotonic() - t0:.0f} s", flush=True)
        heritage(env, "init")
        heritage(env, "collection", "add", "c", "--title", "粵語文獻")
        files = tmp / "files"
        files.mkdir()
        lines = cantonese_sentences(a.items * 3)
        rows = ["file,title,publish"]
        for i in range(a.items):
            if i % 2 == 0:
                img, _ = render_text_page("\n".join(lines[i * 3:(i + 1) * 3]), width=900, font_size=40)
                img.save(files / f"page{i}.png")
                rows.append(f"page{i}.png,報紙 esfault 第{i}號,yes")
            else:
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2",
                                str(files / f"rec{i}.wav")], check=True, timeout=60)
                rows.append(f"rec{i}.wav,錄音 esfault 第{i}號,yes")
        (tmp / "batch.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        logs = [open(tmp / f"worker{i}.log", "w") for i in range(a.workers)]
        workers = [subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--name", f"w{i}"], env=env, cwd=ROOT,
                                    stdout=logs[i], stderr=logs[i], start_new_session=True)
                   for i in range(a.workers)]
        ids = [int(x) for x in heritage(env, "import-csv", str(tmp / "batch.csv"), "--files", str(files),
                                        "--collection", "c").stdout.split()]
        engine = create_engine(f"sqlite:///{data / 'heritage.db'}")

        def q(sql: str) -> int:
            with engine.connect() as c:
                return c.execute(text(sql)).scalar() or 0

        # kill the node once the first items are done (some indexed, the rest still coming)
        deadline = time.monotonic() + 300
        while q("select count(*) from job where state = 'done'") < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        pid = int((es_cache() / f"node-{port}" / "pid").read_text())
        done_at_kill = q("select count(*) from job where state = 'done'")
        os.kill(pid, signal.SIGKILL)
        print(f"SIGKILL to the node (pid {pid}) with {done_at_kill}/{len(ids)} jobs done", flush=True)
        t_kill = time.monotonic()
        while q("select count(*) from job where state in ('queued','running')") and time.monotonic() < deadline:
            time.sleep(0.5)
        jobs_done = q("select count(*) from job where state = 'done'")
        waiting = q("select count(*) from index_task")
        r = heritage(env, "search", "esfault", check=False)
        clean = r.returncode != 0 and "Traceback" not in r.stderr
        print(f"during the outage: {jobs_done}/{len(ids)} jobs done anyway, {waiting} index changes kept in the "
              f"outbox; `heritage search` exit {r.returncode}: {r.stderr.strip().splitlines()[-1][:160]!r} "
              f"({len(r.stderr.strip().splitlines())} stderr lines)", flush=True)

        (es_cache() / f"node-{port}" / "pid").unlink(missing_ok=True)
        t0 = time.monotonic()
        node("start", port)
        print(f"node restarted in {time.monotonic() - t0:.0f} s (outage {time.monotonic() - t_kill:.0f} s)", flush=True)
        t0 = time.monotonic()
        while q("select count(*) from index_task") and time.monotonic() - t0 < 120:
            time.sleep(0.5)
        caught_up = time.monotonic() - t0
        left = q("select count(*) from index_task")
        r = heritage(env, "search", "esfault", "--json", "--per-page", "100")
        import json

        found = json.loads(r.stdout)
        import requests

        diag = {name: requests.get(f"{url}/{path}", timeout=30).text.strip()
                for name, path in (("indices", "_cat/indices?h=index,docs.count,health"),
                                   ("aliases", "_cat/aliases?h=alias,index"))}
        print(f"after the restart: indices {diag['indices']!r}; aliases {diag['aliases']!r}; "
              f"search stderr {r.stderr.strip()[-200:]!r}", flush=True)
        got = sorted(int(str(x["id"]).rsplit("/", 1)[-1]) for x in found["results"])
        published = q("select count(*) from item where state = 'published'")
        if found["total"] != len(ids):  # diagnostics: what the workers said, and does a rebuild heal it?
            for i in range(a.workers):
                tail = (tmp / f"worker{i}.log").read_text(errors="replace").strip().splitlines()[-6:]
                print(f"worker{i} log tail:", *tail, sep="\n  ", flush=True)
            heritage(env, "reindex", check=False)
            again = json.loads(heritage(env, "search", "esfault", "--json", "--per-page", "100").stdout)
            print(f"after `heritage reindex`: search finds {again['total']}/{len(ids)}", flush=True)
        ok = (left == 0 and got == sorted(ids) and found["total"] == len(ids) and jobs_done == len(ids)
              and published == len(ids) and clean)
        print(f"index caught up {caught_up:.1f} s after the restart; outbox left {left}; search finds "
              f"{found['total']}/{len(ids)} items (ids exact, no duplicates: {got == sorted(ids)}); "
              f"{published}/{len(ids)} published", flush=True)
        engine.dispose()
    finally:
        for w in workers:
            try:
                os.killpg(w.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        try:
            node("stop", port)
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(es_cache() / f"node-{port}", ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"RESULT: {'nothing lost, index caught up' if ok else 'FAILED'} ({time.monotonic() - t_all:.0f} s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
