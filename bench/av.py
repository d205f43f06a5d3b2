"""Benchmark: the oral-history pipeline against bare ffmpeg on the same files.

For each generated recording it times

* **bare ffmpeg** — the one command a person would run by hand to make the web copy
  (same codecs and settings as the pipeline, no progress reporting);
* **transcode step** — :func:`ingest.av.transcode.make_access` (the same ffmpeg run plus
  ``-progress`` parsing, the audio waveform output and probing the result);
* **whole pipeline** — ``ingest_paths`` + the ``av`` job in a fresh repository: probing and the
  truncation check, storing the original with fixity, web copy, poster + strip (video) or
  waveform (audio), storing derivatives, database rows, search indexing;

and prints ratios (target for the transcode step: ≤ 1.10× bare ffmpeg) and the real-time factor
(recording seconds per wall-clock second) of the stream-copy path.

Usage: ``python bench/av.py [--seconds 60] [--repeat 2]``. Numbers depend on the machine and its
load; run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import load_settings  # noqa: E402
from ingest.av import transcode  # noqa: E402
from ingest.av.speech import make_test_media  # noqa: E402


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg, ffprobe)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median (wall-clock seconds, CPU seconds) of ``repeat`` runs.

    CPU time is printed too because on a shared, loaded machine wall-clock time mostly measures
    the neighbours."""
    walls, cpus = [], []
    for _ in range(repeat):
        c, t = _cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def bare_ffmpeg(info: transcode.MediaInfo, out: Path) -> None:
    args, _ = transcode.access_args(info, out)  # same codecs/options, no waveform, no -progress
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def whole_pipeline(src: Path, root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ingest + the av job + indexing, in a fresh repository made beforehand."""
    from ingest.intake import IngestOptions, ingest_paths, wait_for
    from repository import Repository, catalog

    data = Path(tempfile.mkdtemp(dir=root))
    repo = Repository.open(load_settings(env={}, data_dir=data), create=True)
    with repo.unit_of_work("bench") as uow:
        catalog.add_collection(uow.session, "bench", "bench")
    c, t = _cpu(), time.perf_counter()
    made = ingest_paths(repo, [src], IngestOptions(collection="bench", publish=True))
    jobs = wait_for(repo, [j for _, j in made], poll=0.02)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    assert jobs[0].state == "done", jobs[0].error
    repo.db.dispose()
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each generated recording")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (median is reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-av-") as tmp:
        root = Path(tmp)
        cases = [
            ("H.264/AAC MP4 (stream copy)", make_test_media("mp4", root / "copy.mp4", args.seconds, size="640x360")),
            ("AAC M4A (stream copy)", make_test_media("m4a", root / "copy.m4a", args.seconds)),
            ("WAV → M4A (transcode)", make_test_media("wav", root / "talk.wav", args.seconds)),
            ("MPEG-2 → MP4 (transcode)", make_test_media("mpg", root / "tape.mpg", args.seconds, size="640x360")),
        ]
        whole_pipeline(cases[0][1], root)  # warm-up: imports (search analysis, PyCantonese) are not per-file work
        print(f"recordings of {args.seconds:.0f} s, median of {args.repeat} runs")
        print(f"{'file':28} {'bare ffmpeg':>13} {'transcode step (ratio)':>30} {'whole pipeline (ratio)':>30} {'RTF':>5}")
        print(f"{'':28} {'wall/cpu s':>13} {'wall/cpu s  wall / cpu':>30} {'wall/cpu s  wall / cpu':>30}")
        for label, src in cases:
            info = transcode.probe(src)
            bare = timed(lambda: bare_ffmpeg(info, root / ("bare" + (".mp4" if info.is_video else ".m4a"))),
                         args.repeat)
            step = timed(lambda: transcode.make_access(info, root / "step"), args.repeat)
            runs = [whole_pipeline(src, root) for _ in range(args.repeat)]
            whole = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            print(f"{label:28} {bare[0]:7.2f}/{bare[1]:5.2f} "
                  f"{step[0]:10.2f}/{step[1]:5.2f} {step[0] / bare[0]:6.2f}x/{step[1] / bare[1]:5.2f}x "
                  f"{whole[0]:10.2f}/{whole[1]:5.2f} {whole[0] / bare[0]:6.2f}x/{whole[1] / bare[1]:5.2f}x "
                  f"{info.duration / whole[0]:5.0f}x")
        print("ratio = time / bare ffmpeg time (wall, cpu); RTF = recording seconds per wall-clock second of the "
              "whole pipeline")


if __name__ == "__main__":
    main()
