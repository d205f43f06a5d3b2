"""Benchmark: the oral-history pipeline against bare ffmpeg on the same files.

For each recording it times (wall-clock / CPU seconds, CPU including the ffmpeg/ffprobe children)

* **bare ffmpeg, web copy** — the one command a person would run by hand to make the web copy
  (same codecs and settings as the pipeline, index in front with ``-movflags +faststart``, no
  progress reporting, no waveform);
* **bare ffmpeg, same outputs** — by hand, one after the other, the bare ffmpeg commands that make
  the SAME outputs as the pipeline: web copy + waveform (audio, one command making both, so the
  sound is decoded once: ``access_args`` + ``waveform_args``), or web copy + poster + strip
  (video, ``access_args`` then ``stills_args``). Like the pipeline's job, it starts with the recording
  already on disk;
* **own args by hand** — the same, but with the pipeline's own web-copy arguments: for a video
  stream copy the pipeline reserves room for the index up front (``-moov_size``, see
  :func:`ingest.av.transcode.moov_reservation`) instead of ``+faststart``'s second pass over the
  file. ``job / own args`` is what the pipeline adds to its own ffmpeg commands (fixity of every
  stored byte, rows, indexing) — the strictest view, printed beside the target;
* **intake** — ``ingest_paths`` in a fresh repository: sniffing and probing the file, the
  truncation check, storing the original (copy + SHA-256 + fsync — for a web upload this is
  receiving the file), the item's database rows and queueing the job. Bare ffmpeg does none of
  this; it is printed beside the job, never left out;
* **job** — everything after the original is safely in the repository: ``wait_for`` running the
  ``av`` job (web copy, poster + strip or waveform, every derivative stored with SHA-256 + fsync,
  database rows, state/publication) and the search indexing of the item;
* **whole** — intake + job, and the real-time factor of the whole pipeline (recording seconds per
  wall-clock second);
* **transcode step** — :func:`ingest.av.transcode.make_access` alone against the bare command with
  the same arguments (round 1's target; printed for information).

**Target (≤ 1.10×): ``job / bare same outputs``, wall-clock time** — the processing job against
bare ffmpeg making the same outputs from the same file on disk, judged on the long (30-minute)
recordings; oral histories are tens of minutes to hours long. ``whole / bare same outputs`` shows
what the intake adds on top. Each round runs every measurement once, back to back (bare commands, then the
pipeline), so both sides see the same load; seconds are the medians of ``--repeat`` rounds and each
ratio is the median of the rounds' own ratios, with the target's min-max over the rounds and the
CPU time the hypervisor stole per round printed beside it (this VM's neighbours come and go). For
the 60 s cases fixed per-item work (process starts, database,
indexing) is still visible and the ratios are printed for information. The CPU ratio of the job is
printed too and is above 1.10× for stream copies: the job computes the SHA-256 of every stored
byte (≈ 0.4 s of CPU for a 430 MB web copy), which bare ffmpeg does not, and a stream copy costs
ffmpeg little; that hashing runs beside ffmpeg work where it can, which is why wall time can stay
close to bare ffmpeg.

The long recordings are the 60 s ones repeated with ffmpeg ``-stream_loop`` and stream copy (the
bytes of a real 30-minute H.264/AAC and AAC file, made in seconds); the two transcode cases stay at
``--seconds`` because transcoding 30 minutes takes minutes per run and the bench must stay under
~5 minutes. Usage: ``python bench/av.py [--seconds 60] [--long-minutes 30] [--repeat 5]``.
Numbers depend on the machine and its load; run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
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


def _steal() -> float:
    """Seconds of CPU time stolen from this VM by the hypervisor so far (all CPUs; 0 if unknown)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _room(inputs: tuple[Path, ...] | list[Path]) -> int:
    """How much memory to prefault before a measurement that writes about twice its inputs' size:
    six times their size and 256 MiB (twice was not enough: measured on the 30-minute MP4, the
    job's web copy still took 1.1–1.4 s in most rounds; with ~3 GB it took 0.56–0.81 s)."""
    return 6 * sum(p.stat().st_size for p in inputs) + (256 << 20)


def warm(*paths: Path) -> None:
    """Read files into the page cache, so that every measurement starts with its input cached.

    This machine (a VM) runs DAMON with a ``pageout`` scheme (``/sys/kernel/mm/damon``): page
    cache that looks idle is written out at up to 128 MB/s whatever memory is free, so without this
    a measurement finds a random part of a 430 MB input evicted and pays for reading it from the
    disk again (the "CPU doubled" rounds of earlier runs: refaults, seen in ``/proc/vmstat``).
    Both sides — bare ffmpeg and the pipeline — get their input warmed the same way."""
    buf = bytearray(1 << 20)
    for path in paths:
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass


def prefault(nbytes: int) -> None:
    """Touch ``nbytes`` of fresh memory and free it again, so the next measurement's writes land
    in memory the hypervisor has backed.

    This VM's balloon device reports free memory to the host (virtio-balloon free page reporting,
    feature bit 5 in ``/sys/bus/virtio/devices/*/features``), which takes it back; the first write
    to such a page then faults in the host, which the guest sees as slow CPU time. Writing a
    430 MB file into the page cache cost ffmpeg anywhere from 0.6 to 2.1 s depending on which pages
    it got; with this before each measurement the same run is 0.7–0.9 s. Done the same way before
    every measurement, bare ffmpeg's and the pipeline's: freed pages are reused first."""
    if nbytes > 0:
        block = bytearray(nbytes)
        block[::4096] = b"\1" * len(range(0, nbytes, 4096))
        del block


def timed(fn, repeat: int, inputs: tuple[Path, ...] = ()) -> tuple[float, float]:
    """Median (wall-clock seconds, CPU seconds) of ``repeat`` runs, ``inputs`` warmed before each
    and memory prefaulted for the writes (see :func:`prefault` and :func:`_room`).

    CPU time is printed too because on a shared, loaded machine wall-clock time mostly measures
    the neighbours."""
    walls, cpus = [], []
    room = _room(inputs)
    for _ in range(repeat):
        os.sync()  # no measurement pays for an earlier one's deferred writes (see whole_pipeline)
        warm(*inputs)
        prefault(room)
        c, t = _cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def _ffmpeg(args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def bare_web_copy(info: transcode.MediaInfo, root: Path, own: bool = False) -> None:
    """The web copy only, as by hand: same codecs/options, +faststart, no waveform, no -progress;
    ``own``: with the pipeline's index reservation instead of +faststart (the command
    make_access runs)."""
    reserve = transcode.moov_reservation(info) if own else None
    _ffmpeg(transcode.access_args(info, root / ("bare" + (".mp4" if info.is_video else ".m4a")),
                                  moov_size=reserve)[0])


def bare_same_outputs(info: transcode.MediaInfo, root: Path, own: bool = False) -> None:
    """Every output the pipeline makes, by hand, one command after the other (audio: one command
    making the web copy and the waveform, so the sound is read and decoded once)."""
    if info.is_video:
        bare_web_copy(info, root, own)
        _ffmpeg(transcode.stills_args(info, root / "bare-poster.jpg", root / "bare-strip.jpg"))
    else:
        _ffmpeg(transcode.access_args(info, root / "bare.m4a")[0] + transcode.waveform_args(root / "bare-waveform.png"))


def loop_to(src: Path, dest: Path, minutes: float) -> Path:
    """``src`` repeated to ``minutes`` long, stream-copied (real H.264/AAC bytes, made in seconds)."""
    loops = max(0, int(minutes * 60 / transcode.probe(src, check=False).duration + 0.5) - 1)
    _ffmpeg(["-stream_loop", str(loops), "-i", str(src), "-map", "0", "-c", "copy",
             "-f", "mp4" if dest.suffix == ".mp4" else "ipod", str(dest)])
    return dest


def whole_pipeline(src: Path, root: Path, warmup: Path | None = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """((wall, CPU) of the intake, (wall, CPU) of the job + indexing), in a fresh repository made
    beforehand (with its search index, and ``warmup`` ingested first) and removed afterwards; the job starts once the intake has
    returned and its input (the stored original) is warmed and room for its outputs prefaulted like
    bare ffmpeg's (see :func:`warm` and :func:`prefault`)."""
    from ingest.intake import IngestOptions, ingest_paths, wait_for
    from repository import Repository, catalog

    data = Path(tempfile.mkdtemp(dir=root))
    repo = Repository.open(load_settings(env={}, data_dir=data), create=True)
    with repo.unit_of_work("bench") as uow:
        catalog.add_collection(uow.session, "bench", "bench")
    # a repository in use already has its search index: creating it (~0.07 s) is set-up, not per-file work
    from search import service

    service.rebuild(repo)
    # A worker runs job after job with one database engine, whose compiled-statement cache is warm
    # after the first; a fresh repository's engine compiles every statement once (~25 ms per job,
    # measured with cProfile). One short recording goes through first, so the timed job pays what
    # a running worker pays (the same reason the imports are warmed up once in main).
    if warmup is not None:
        warmed = ingest_paths(repo, [warmup], IngestOptions(collection="bench", publish=True))
        wait_for(repo, [j for _, j in warmed], poll=0.02)
    transcode.ffprobe_cache_clear()  # the pipeline must probe the file itself, as for a new upload
    # Bare ffmpeg leaves its 430 MB outputs as dirty pages that the kernel writes back seconds later,
    # in the middle of whatever runs next; the pipeline fsyncs what it stores. Flush before timing.
    os.sync()
    warm(src)
    prefault(_room([src]))
    c, t = _cpu(), time.perf_counter()
    made = ingest_paths(repo, [src], IngestOptions(collection="bench", publish=True))
    intake = (time.perf_counter() - t, _cpu() - c)
    # the job's input is the stored original, just written by the intake: warmed like bare ffmpeg's
    from repository.models import File

    with repo.session() as s:
        stored = [repo.store.path(f.sha256) for f in s.query(File).filter(
            File.role == "original", File.item_id == made[0][0])]
    warm(*stored)
    prefault(_room(stored))
    c1, t1 = _cpu(), time.perf_counter()
    jobs = wait_for(repo, [j for _, j in made], poll=0.02)
    c2, t2 = _cpu(), time.perf_counter()
    assert jobs[0].state == "done", jobs[0].error
    repo.db.dispose()
    shutil.rmtree(data, ignore_errors=True)
    return intake, (t2 - t1, c2 - c1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the short recordings")
    ap.add_argument("--long-minutes", type=float, default=30.0,
                    help="length of the long stream-copy recordings (0: skip them)")
    ap.add_argument("--repeat", type=int, default=5, help="rounds per case (medians are reported)")
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
        warmup = make_test_media("m4a", root / "warm-up.m4a", 1.0)
        whole_pipeline(cases[0][1], root)  # warm-up: imports (search analysis, PyCantonese) are not per-file work
        print(f"{args.repeat} rounds per case; seconds are medians (wall/cpu), ratios are the median of the "
              f"rounds' own ratios (wall/cpu). TARGET (<= 1.10x): job / bare same outputs, wall, long recordings")
        print(f"{'file':28} {'bare ffmpeg':>11} {'bare ffmpeg':>11} {'intake':>11} {'job':>11} "
              f"{'job /':>11} {'(rounds)':>11} {'job /':>11} {'whole /':>11} {'RTF':>5} {'transcode step':>12} "
              f"{'steal':>5}")
        print(f"{'':28} {'web copy':>11} {'same outs':>11} {'':>11} {'':>11} "
              f"{'bare same':>11} {'min-max':>11} {'own args':>11} {'bare same':>11} {'whole':>5} {'vs own args':>12} "
              f"{'s':>5}")
        for label, src in cases:
            info = transcode.probe(src)
            reserved = transcode.moov_reservation(info) is not None
            # one round = every measurement once, back to back, so that the bare commands and the
            # pipeline see the same load from the neighbours (this VM's neighbours come and go: a
            # round where they slowed one side shows as an outlier in min-max and the steal column)
            rounds = []
            steal0 = _steal()
            for _ in range(args.repeat):
                bare = timed(lambda: bare_web_copy(info, root), 1, (src,))
                # the command make_access runs; unless the index is reserved it is the bare web copy
                own_args = timed(lambda: bare_web_copy(info, root, own=True), 1, (src,)) if reserved else bare
                same = timed(lambda: bare_same_outputs(info, root), 1, (src,))
                own = timed(lambda: bare_same_outputs(info, root, own=True), 1, (src,)) if reserved else same
                step = timed(lambda: transcode.make_access(info, root / "step"), 1, (src,))
                intake, job = whole_pipeline(src, root, warmup)
                rounds.append({"bare": bare, "own_args": own_args, "same": same, "own": own, "step": step,
                               "intake": intake, "job": job, "whole": (intake[0] + job[0], intake[1] + job[1])})
            steal = (_steal() - steal0) / args.repeat

            def med(key: str) -> tuple[float, float]:
                return tuple(statistics.median(r[key][k] for r in rounds) for k in (0, 1))

            def ratio(top: str, bottom: str) -> str:
                wall, cpu = (statistics.median(r[top][k] / r[bottom][k] for r in rounds) for k in (0, 1))
                return f"{wall:4.2f}x/{cpu:4.2f}x"

            target = [r["job"][0] / r["same"][0] for r in rounds]
            bare, same, intake, job, whole = (med(k) for k in ("bare", "same", "intake", "job", "whole"))
            print(f"{label:28} {bare[0]:5.2f}/{bare[1]:5.2f} {same[0]:5.2f}/{same[1]:5.2f} "
                  f"{intake[0]:5.2f}/{intake[1]:5.2f} {job[0]:5.2f}/{job[1]:5.2f} "
                  f"{ratio('job', 'same')} {min(target):4.2f}-{max(target):4.2f}x {ratio('job', 'own')} "
                  f"{ratio('whole', 'same')} {info.duration / whole[0]:5.0f} {ratio('step', 'own_args')} "
                  f"{steal:5.2f}")
        print("steal = CPU seconds the hypervisor gave to other machines during a round (from /proc/stat); "
              "bare same outs = the bare ffmpeg commands for every output the job makes, by hand, one after the other "
              "(web copy with +faststart); own args = the same with the pipeline's own web-copy arguments (a video "
              "stream copy reserves the index's room up front instead of +faststart's second pass); intake = storing "
              "the original (copy + SHA-256 + fsync), probe, truncation check, rows; job = the av job + indexing, "
              "after the original is stored; whole = intake + job; RTF = recording seconds per wall-clock second of "
              "the whole pipeline; transcode step = make_access vs the bare command with the same arguments.")


if __name__ == "__main__":
    main()
