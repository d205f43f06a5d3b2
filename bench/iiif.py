"""Benchmark: IIIF tile serving vs the IIIF reference implementation and a static-file baseline.

Serves the same images from
  * ours, reading the original with Pillow (JPEG draft decoding)       -> "ours-pillow"
  * ours, reading a pyramidal tiled TIFF made once with libvips         -> "ours-pyramid"
  * the reference implementation (PyPI ``iiif``, iiif_testserver.py, PIL manipulator) -> "peer"
  * the tile bytes as static files, from the same app stack ("static-same-app", the baseline for
    the 1.5x target) and from a minimal Flask app ("static-minimal", for information)
each in its own process on the same threaded Werkzeug server, and prints p50/p95 latency and
throughput for uncached ("cold") and repeated ("cached") 256 px tiles, then ratios vs targets:
  ours ≥ 2× peer throughput; cached within 1.5× of static; uncached 256 px tile p95 < 50 ms.

Run: ``python bench/iiif.py [--tiles 40] [--image PATH]`` (uses ../shared/data/iiif/tetons.jpg
when present, else a generated 4000×3000 photograph-like JPEG).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "iiif" / "tetons.jpg"
TILE = 256

OURS_SERVER = r"""
import os, sys
sys.path.insert(0, {root!r})
from werkzeug.serving import run_simple
from config import load_settings
from web.app import create_app
app = create_app(load_settings())
mp = os.environ["BENCH_PYRAMID_MIN"]
app.config["IIIF_PYRAMID_MIN_PIXELS"] = None if mp == "none" else int(mp)
if os.environ.get("BENCH_STATIC_DIR"):  # the same app stack serving plain files: the fair baseline
    from flask import send_from_directory
    app.add_url_rule("/bench-static/<name>", "bench_static",
                     lambda name: send_from_directory(os.environ["BENCH_STATIC_DIR"], name, max_age=86400))
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
"""
STATIC_SERVER = r"""
import sys
from flask import Flask, send_from_directory
from werkzeug.serving import run_simple
app = Flask(__name__)
@app.get("/s/<name>")
def s(name):
    return send_from_directory(sys.argv[2], name, max_age=86400)
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not come up: {url}")


def make_photo(path: Path, size=(4000, 3000)) -> None:
    """A photograph-like JPEG (gradients + noise) when the shared test photo is absent."""
    import pyvips

    w, h = size
    xyz = pyvips.Image.xyz(w, h)
    r = (xyz[0] * 255 / w)
    g = (xyz[1] * 255 / h)
    noise = pyvips.Image.gaussnoise(w, h, sigma=30, mean=128)
    pyvips.Image.bandjoin([r, g, noise]).cast("uchar").jpegsave(str(path), Q=90)


def tiles_for(width: int, height: int, n: int, seed: int) -> list[str]:
    """Region/size paths of 256 px tiles at scale factors 1, 2 and 4, as OpenSeadragon asks."""
    rnd = random.Random(seed)
    out = set()
    while len(out) < n:
        sf = rnd.choice([1, 1, 2, 4])
        span = TILE * sf
        x = rnd.randrange(0, (width - 1) // span + 1) * span
        y = rnd.randrange(0, (height - 1) // span + 1) * span
        w, h = min(span, width - x), min(span, height - y)
        out.add(f"{x},{y},{w},{h}/{-(-w // sf)},")
    return sorted(out)


def timed(urls: list[str], session: requests.Session) -> tuple[list[float], list[bytes]]:
    lat, bodies = [], []
    for u in urls:
        t = time.perf_counter()
        r = session.get(u, timeout=120)
        lat.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise SystemExit(f"{u}: HTTP {r.status_code}")
        bodies.append(r.content)
    return lat, bodies


def throughput(urls: list[str], workers: int = 4) -> float:
    def get(u):
        r = requests.get(u, timeout=120)
        assert r.status_code == 200, u

    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(get, urls))
    return len(urls) / (time.perf_counter() - t)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiles", type=int, default=40, help="tiles per pass (default 40)")
    ap.add_argument("--rounds", type=int, default=3, help="cached rounds (default 3)")
    ap.add_argument("--image", type=Path, help="a JPEG to serve (default: tetons.jpg or generated)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="iiif-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        src = args.image or (SHARED if SHARED.is_file() else None)
        if src is None:
            src = work / "photo.jpg"
            make_photo(src)
        from PIL import Image

        with Image.open(src) as im:
            width, height = im.size
        print(f"image: {src.name} {width}x{height}, {src.stat().st_size / 1e6:.1f} MB; {args.tiles} tiles per pass")

        # --- our repository with one published page ------------------------------------------
        env = dict(os.environ, HERITAGE_DATA_DIR=str(work / "data"))
        os.environ["HERITAGE_DATA_DIR"] = env["HERITAGE_DATA_DIR"]
        from config import load_settings
        from repository import Repository
        from repository.models import Collection, Item, Page, utcnow

        repo = Repository.open(load_settings(), create=True)
        with repo.unit_of_work("bench") as uow:
            coll = Collection(slug="bench", title="bench")
            item = Item(collection=coll, title="bench", state="published", published_at=utcnow())
            uow.session.add(item)
            uow.session.flush()
            page = Page(item=item, n=1, image_id="bench", width=width, height=height)
            uow.session.add(page)
            uow.session.flush()
            uow.add_file(item, src, role="page_image", mime="image/jpeg", page_id=page.id)
        repo.db.dispose()

        servers: dict[str, str] = {}
        static_dir = work / "static"
        static_dir.mkdir()
        ports: dict[str, int] = {}
        for name, mode in (("ours-pillow", "none"), ("ours-pyramid", "0")):
            port = ports[name] = free_port()
            data = work / f"data-{name}"
            shutil.copytree(work / "data", data)
            e = dict(env, HERITAGE_DATA_DIR=str(data), BENCH_PYRAMID_MIN=mode, BENCH_STATIC_DIR=str(static_dir))
            procs.append(subprocess.Popen([sys.executable, "-c", OURS_SERVER.format(root=str(ROOT)), str(port)],
                                          env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            servers[name] = f"http://127.0.0.1:{port}/iiif/3/bench"
        peer_dir = work / "peer"
        peer_dir.mkdir()
        shutil.copy(src, peer_dir / "bench.jpg")
        port = free_port()
        peer_bin = shutil.which("iiif_testserver.py") or str(Path(sys.executable).parent / "iiif_testserver.py")
        procs.append(subprocess.Popen([sys.executable, peer_bin, "--port", str(port), "--image-dir", str(peer_dir),
                                       "--manipulators", "pil", "--api-versions", "3.0", "--quiet"],
                                      cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers["peer"] = f"http://127.0.0.1:{port}/3.0_pil/bench"
        for base in servers.values():
            wait_up(f"{base}/info.json")

        t = time.perf_counter()
        requests.get(f"{servers['ours-pyramid']}/0,0,256,256/256,/0/default.jpg", timeout=300)
        print(f"pyramid build (once per image; here at the first request, as the bench item is not ingested "
              f"through the scan job, which builds it at ingest): {time.perf_counter() - t:.2f} s")

        cold_tiles = tiles_for(width, height, args.tiles, seed=1)
        tput_tiles = tiles_for(width, height, args.tiles, seed=2)
        # Requests are interleaved across servers (tile by tile) so that load from other processes
        # on the machine falls on every server alike.
        session = requests.Session()
        lat: dict[str, dict[str, list[float]]] = {n: {"cold": [], "cached": []} for n in servers}
        static_bodies: list[bytes] = []
        for t in cold_tiles:
            for name, base in servers.items():
                took, bodies = timed([f"{base}/{t}/0/default.jpg"], session)
                lat[name]["cold"] += took
                if name == "ours-pyramid":
                    static_bodies += bodies
        for i, b in enumerate(static_bodies):
            (static_dir / f"{i}.jpg").write_bytes(b)
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", STATIC_SERVER, str(port), str(static_dir)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        all_urls = {name: [f"{base}/{t}/0/default.jpg" for t in cold_tiles] for name, base in servers.items()}
        all_urls["static-minimal"] = [f"http://127.0.0.1:{port}/s/{i}.jpg" for i in range(len(cold_tiles))]
        all_urls["static-same-app"] = [f"http://127.0.0.1:{ports['ours-pyramid']}/bench-static/{i}.jpg"
                                       for i in range(len(cold_tiles))]
        wait_up(all_urls["static-minimal"][0])
        for name in ("static-minimal", "static-same-app"):
            lat[name] = {"cold": [], "cached": []}
        for _round in range(args.rounds):
            for i in range(len(cold_tiles)):
                for name, urls in all_urls.items():
                    if name == "peer" and _round > 0:
                        continue  # the peer has no cache; one round is enough and it is slow
                    took, _ = timed([urls[i]], session)
                    lat[name]["cached"] += took
        results = {}
        tp_cold = {name: (throughput([f"{servers[name]}/{t}/0/default.jpg" for t in tput_tiles])
                          if name in servers else None) for name in all_urls}
        # cached throughput: best of `rounds` alternating runs per server (load noise hits all alike)
        tp_cached: dict[str, list[float]] = {name: [] for name in all_urls}
        for _round in range(args.rounds):
            for name, urls in all_urls.items():
                if name == "peer" and _round > 0:
                    continue
                tp_cached[name].append(throughput(urls))
        for name in all_urls:
            cold = lat[name]["cold"] or lat[name]["cached"]
            best = max(tp_cached[name])
            results[name] = dict(cold=cold, cached=lat[name]["cached"],
                                 tp_cold=tp_cold[name] if tp_cold[name] is not None else best, tp_cached=best)

        print(f"\n{'server':14} {'cold p50':>9} {'cold p95':>9} {'cached p50':>11} {'cached p95':>11} "
              f"{'cold tiles/s':>13} {'cached tiles/s':>15}")
        for name, r in results.items():
            print(f"{name:14} {pct(r['cold'], 50):8.1f}ms {pct(r['cold'], 95):8.1f}ms {pct(r['cached'], 50):10.1f}ms "
                  f"{pct(r['cached'], 95):10.1f}ms {r['tp_cold']:13.1f} {r['tp_cached']:15.1f}")

        best = max(("ours-pillow", "ours-pyramid"), key=lambda n: results[n]["tp_cold"])
        ours, peer, static = results[best], results["peer"], results["static-same-app"]
        minimal = results["static-minimal"]
        print(f"\nfaster reader for uncached tiles: {best} "
              f"(pyramid/pillow cold throughput = "
              f"{results['ours-pyramid']['tp_cold'] / results['ours-pillow']['tp_cold']:.2f}x)")
        checks = [
            ("uncached throughput vs peer", ours["tp_cold"] / peer["tp_cold"], ">= 2.0x",
             ours["tp_cold"] / peer["tp_cold"] >= 2.0),
            ("cached throughput vs peer", ours["tp_cached"] / peer["tp_cached"], ">= 2.0x",
             ours["tp_cached"] / peer["tp_cached"] >= 2.0),
            ("cached p50 latency / static p50", pct(ours["cached"], 50) / pct(static["cached"], 50), "<= 1.5x",
             pct(ours["cached"], 50) / pct(static["cached"], 50) <= 1.5),
            ("static throughput / cached throughput", static["tp_cached"] / ours["tp_cached"], "<= 1.5x",
             static["tp_cached"] / ours["tp_cached"] <= 1.5),
            ("cached p50 / minimal-Flask static p50", pct(ours["cached"], 50) / pct(minimal["cached"], 50),
             "(info)", True),
            ("uncached 256px tile p95 (ms)", pct(ours["cold"], 95), "< 50",
             pct(ours["cold"], 95) < 50),
        ]
        print()
        for label, value, target, ok in checks:
            print(f"{label:40} {value:8.2f}  target {target:8}  {'MET' if ok else 'NOT MET'}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
