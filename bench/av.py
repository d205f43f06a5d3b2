"""Benchmark: the oral-history pipeline against bare ffmpeg on the same files.

For each recording it times

* **bare ffmpeg, web copy** — the one command a person would run by hand to make the web copy
  (same codecs and settings as the pipeline, no progress reporting, no waveform);
* **bare ffmpeg, all outputs** — by hand, one after the other, the bare ffmpeg commands that make
  the SAME outputs as the pipeline: web copy + waveform (audio, one command, exactly
  :func:`ingest.av.transcode.access_args`), or web copy + poster + strip (video,
  ``access_args`` then ``stills_args``);
* **transcode step** — :func:`ingest.av.transcode.make_access` (the same ffmpeg run plus
  ``-progress`` parsing and recording the facts of the result); its baseline is the bare ffmpeg
  command with the same arguments (for audio that includes the waveform output);
* **whole pipeline** — ``ingest_paths`` + the ``av`` job in a fresh repository: sniffing, probing
  and the truncation check, storing the original with fixity, web copy, poster + strip (video) or
  waveform (audio), storing every derivative with fixity (SHA-256, fsync), database rows, search
  indexing;

and prints ratios and the real-time factor (recording seconds per wall-clock second of the whole
pipeline).

**Targets (≤ 1.10×).** The transcode step is judged against the bare command with the same
arguments, in wall and CPU time, for every case. The whole pipeline is judged on **wall-clock time
against "bare ffmpeg, all outputs" for the long (30-minute) recordings** — oral histories are tens
of minutes to hours long. For the 60 s cases the fixed per-item work (process starts, database,
indexing) is still visible and the ratios are printed for information; the ratio against the web
copy alone is printed as well. The CPU ratio of the whole pipeline is always above 1: it hashes
and fsyncs every stored byte (original and web copy), which bare ffmpeg does not; part of that runs
in threads beside ffmpeg, which is why wall time can stay close to bare ffmpeg.

The long recordings are the 60 s ones repeated with ffmpeg ``-stream_loop`` and stream copy (the
bytes of a real 30-minute H.264/AAC and AAC file, made in seconds); the two transcode cases stay at
``--seconds`` because transcoding 30 minutes takes minutes per run and the bench must stay under
~5 minutes. Usage: ``python bench/av.py [--seconds 60] [--long-minutes 30] [--repeat 2]``.
Numbers depend on the machine and its load; run it on a quiet machine.
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


def _ffmpeg(args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def bare_web_copy(info: transcode.MediaInfo, root: Path) -> None:
    """The web copy only: same codecs/options, no waveform, no -progress."""
    _ffmpeg(transcode.access_args(info, root / ("bare" + (".mp4" if info.is_video else ".m4a")))[0])


def bare_same_args(info: transcode.MediaInfo, root: Path) -> None:
    """The command make_access runs (with the waveform output for audio), without -progress."""
    wave = None if info.is_video else root / "bare-waveform.png"
    _ffmpeg(transcode.access_args(info, root / ("bare" + (".mp4" if info.is_video else ".m4a")), wave)[0])


def bare_all_outputs(info: transcode.MediaInfo, root: Path) -> None:
    """Every output the pipeline makes, by hand, one command after the other."""
    bare_same_args(info, root)
    if info.is_video:
        _ffmpeg(transcode.stills_args(info, root / "bare-poster.jpg", root / "bare-strip.jpg"))


def loop_to(src: Path, dest: Path, minutes: float) -> Path:
    """``src`` repeated to ``minutes`` long, stream-copied (real H.264/AAC bytes, made in seconds)."""
    loops = max(0, int(minutes * 60 / transcode.probe(src, check=False).duration + 0.5) - 1)
    _ffmpeg(["-stream_loop", str(loops), "-i", str(src), "-map", "0", "-c", "copy",
             "-f", "mp4" if dest.suffix == ".mp4" else "ipod", str(dest)])
    return dest


def whole_pipeline(src: Path, root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ingest + the av job + indexing, in a fresh repository made beforehand."""
    from ingest.intake import IngestOptions, ingest_paths, wait_for
    from repository import Repository, catalog

    data = Path(tempfile.mkdtemp(dir=root))
    repo = Repository.open(load_settings(env={}, data_dir=data), create=True)
    with repo.unit_of_work("bench") as uow:
        catalog.add_collection(uow.session, "bench", "bench")
    transcode.ffprobe_cache_clear()  # the pipeline must probe the file itself, as for a new upload
    c, t = _cpu(), time.perf_counter()
    made = ingest_paths(repo, [src], IngestOptions(collection="bench", publish=True))
    jobs = wait_for(repo, [j for _, j in made], poll=0.02)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    assert jobs[0].state == "done", jobs[0].error
    repo.db.dispose()
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the short recordings")
    ap.add_argument("--long-minutes", type=float, default=30.0,
                    help="length of the long stream-copy recordings (0: skip them)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (median is reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-av-") as tmp:
        root = Path(tmp)
        s = args.seconds
        cases = [
            (f"H.264/AAC MP4 {s:.0f} s (copy)", make_test_media("mp4", root / "copy.mp4", s, size="640x360")),
            (f"AAC M4A {s:.0f} s (copy)", make_test_media("m4a", root / "copy.m4a", s)),
            (f"WAV → M4A {s:.0f} s", make_test_media("wav", root / "talk.wav", s)),
            (f"MPEG-2 → MP4 {s:.0f} s", make_test_media("mpg", root / "tape.mpg", s, size="640x360")),
        ]
        if args.long_minutes > 0:
            m = args.long_minutes
            cases += [(f"H.264/AAC MP4 {m:.0f} min (copy)", loop_to(cases[0][1], root / "long.mp4", m)),
                      (f"AAC M4A {m:.0f} min (copy)", loop_to(cases[1][1], root / "long.m4a", m))]
        whole_pipeline(cases[0][1], root)  # warm-up: imports (search analysis, PyCantonese) are not per-file work
        print(f"median of {args.repeat} runs; wall/cpu seconds; ratio = time / bare ffmpeg time (wall, cpu)")
        print(f"{'file':30} {'bare ffmpeg':>11} {'bare ffmpeg':>11} {'transcode step':>26} "
              f"{'whole pipeline':>38} {'RTF':>5}")
        print(f"{'':30} {'web copy':>11} {'all outputs':>11} {'vs same args':>26} "
              f"{'vs all outputs  vs web copy':>38}")
        for label, src in cases:
            info = transcode.probe(src)
            bare = timed(lambda: bare_web_copy(info, root), args.repeat)
            # for video the web-copy command is the one make_access runs: not timed twice
            same = bare if info.is_video else timed(lambda: bare_same_args(info, root), args.repeat)
            every = timed(lambda: bare_all_outputs(info, root), args.repeat)
            step = timed(lambda: transcode.make_access(info, root / "step"), args.repeat)
            runs = [whole_pipeline(src, root) for _ in range(args.repeat)]
            whole = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            print(f"{label:30} {bare[0]:5.2f}/{bare[1]:5.2f} {every[0]:5.2f}/{every[1]:5.2f} "
                  f"{step[0]:6.2f}/{step[1]:5.2f} {step[0] / same[0]:5.2f}x/{step[1] / same[1]:5.2f}x "
                  f"{whole[0]:6.2f}/{whole[1]:5.2f} {whole[0] / every[0]:5.2f}x/{whole[1] / every[1]:5.2f}x "
                  f"{whole[0] / bare[0]:5.2f}x/{whole[1] / bare[1]:5.2f}x {info.duration / whole[0]:5.0f}x")
        print("transcode step: vs the bare command with the same arguments; whole pipeline: vs the bare commands "
              "for all its outputs, and vs the web copy alone; RTF = recording seconds per wall-clock second of the "
              "whole pipeline. Target (<= 1.10x): transcode step wall and cpu, every case; whole pipeline wall vs "
              "all outputs, long recordings.")


if __name__ == "__main__":
    main()
