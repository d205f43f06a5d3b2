"""Probing recordings and making their web derivatives with the real ffprobe/ffmpeg.

* :func:`probe` — ffprobe through ffmpeg-python, summarised as :class:`MediaInfo`.
* :func:`make_access` — the web copy: video → MP4 (H.264 + AAC, index first: ``+faststart``, or
  for a stream copy room reserved up front, see :func:`moov_reservation`), audio → M4A (AAC).
  Input that is already web-compatible is **stream-copied** (no re-encode).
* :func:`make_waveform` — the waveform PNG of a recording (``showwavespic``). The job runs it as a
  second ffmpeg process at the same time as the web copy: drawing the waveform decodes all the
  sound, which for a stream copy is most of the work, and two processes on two cores finish
  sooner than one run making both outputs (1.70 s against 1.94 s for a 30-minute M4A).
* :func:`make_stills` — the poster frame and the thumbnail strip of a video in one ffmpeg run that
  only decodes a few frames (fast input seeking), so its cost does not grow with the length;
  :func:`make_poster` and :func:`make_strip` are the slower fallback that reads the whole file.

The facts recorded about the web copy are known without probing it again: a stream copy keeps the
source's streams, a transcode has the codecs, picture size and sample rate the arguments set; the
duration comes from ffmpeg's ``-progress`` report and the size from ``os.stat``
(``tests/av`` checks them against ffprobe). ffprobe output is cached per file identity
(:func:`ffprobe_json`), so sniffing and probing the same upload run ffprobe once.

ffmpeg reads and writes files itself (never through Python memory), so hours-long recordings
are fine. Progress comes from ``-progress pipe:1`` (``out_time_us``) and is passed on in seconds.

The ffmpeg command lines are built as plain argument lists rather than through ffmpeg-python's
graph builder: one run has two outputs with different stream maps plus ``-progress``, which is
clearer (and easier to check in tests and the benchmark) as the literal argv.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import ffmpeg

from config import InvalidInput, Unavailable

log = logging.getLogger("heritage.av")

#: container families ffmpeg reports (``format_name`` parts) that we accept
ACCEPTED_FORMATS = {"wav", "mp3", "flac", "mov", "mp4", "m4a", "ogg", "matroska", "webm", "avi",
                    "mpeg", "mpegts", "dv", "aac", "aiff", "w64"}
#: codecs a browser plays inside MP4/M4A without help
WEB_VIDEO_CODECS = {"h264"}
WEB_PIX_FMTS = {"yuv420p", "yuvj420p"}
WEB_AUDIO_CODECS = {"aac"}
#: sample rates ffmpeg's AAC encoder takes; other rates are resampled to 48 kHz (explicitly, so the
#: web copy's rate is known without probing it)
AAC_SAMPLE_RATES = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
SUPPORTED_TEXT = "WAV, MP3, FLAC, M4A/AAC, OGG/Opus, MP4, MOV, MKV, AVI, MPEG-2, DV"

ProgressFn = Callable[[float], None]


@dataclass
class MediaInfo:
    """What ffprobe says about a recording, reduced to what the pipeline needs."""

    path: Path
    format_name: str
    duration: float
    size: int
    bit_rate: int | None
    video: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_video(self) -> bool:
        return self.video is not None

    @property
    def item_type(self) -> str:
        return "MovingImage" if self.is_video else "Sound"

    @property
    def web_compatible(self) -> bool:
        """True when the streams can go into MP4/M4A unchanged (stream copy)."""
        audio_ok = self.audio is None or self.audio["codec"] in WEB_AUDIO_CODECS
        if self.video is not None:
            return (self.video["codec"] in WEB_VIDEO_CODECS and self.video.get("pix_fmt") in WEB_PIX_FMTS
                    and audio_ok)
        return self.audio is not None and audio_ok

    @classmethod
    def from_summary(cls, path: Path, facts: dict[str, Any]) -> "MediaInfo":
        """Rebuild from :meth:`summary` (stored in ``File.tech``) without running ffprobe again."""
        return cls(Path(path), facts["format"], float(facts["duration"]), int(facts["size"]), facts.get("bit_rate"),
                   facts.get("video"), facts.get("audio"))

    def summary(self) -> dict[str, Any]:
        """JSON-able facts for ``File.tech``."""
        return {"format": self.format_name, "duration": round(self.duration, 3), "size": self.size,
                "bit_rate": self.bit_rate, "video": self.video, "audio": self.audio}


def _num(value: Any, cast=float) -> Any:
    try:
        return cast(value)
    except (TypeError, ValueError):
        return None


def _rate(text: str | None) -> float | None:
    if not text or "/" not in text:
        return _num(text)
    a, b = text.split("/", 1)
    a, b = _num(a), _num(b)
    return round(a / b, 3) if a and b else None


@functools.lru_cache(maxsize=32)
def _ffprobe_cached(path: str, identity: tuple[int, ...]) -> dict[str, Any]:
    return ffmpeg.probe(path)


def ffprobe_json(path: Path | str) -> dict[str, Any]:
    """``ffmpeg.probe(path)`` (raises :class:`ffmpeg.Error`), run once per file version.

    Intake sniffs every path before it makes any item, then probes it again in the item's unit
    of work; each ffprobe start costs ~0.1 s of CPU, so the answer is cached, keyed on the
    file's identity (device, inode, size, mtime, ctime): a changed or replaced file is probed
    again. Errors are not cached. Callers must not modify the returned dict.
    """
    try:
        st = os.stat(path)
    except OSError:
        return ffmpeg.probe(str(path))  # not cacheable; ffprobe says what is wrong
    return _ffprobe_cached(os.path.abspath(path), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                                    st.st_ctime_ns))


def ffprobe_cache_clear() -> None:
    """Forget every cached ffprobe answer (the benchmark measures a first ingest)."""
    _ffprobe_cached.cache_clear()


def probe(path: Path | str, *, check: bool = True) -> MediaInfo:
    """Probe ``path`` with ffprobe; :class:`InvalidInput` with a reason for anything unusable.

    ``check`` also reads the tail to refuse truncated files (:func:`check_complete`).
    """
    path = Path(path)
    name = path.name
    if shutil.which("ffprobe") is None:
        raise Unavailable("ffprobe is not installed (run scripts/setup.sh)")
    try:
        data = ffprobe_json(path)
    except ffmpeg.Error as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1].split(": ", 1)[-1] if detail else "unreadable"
        raise InvalidInput(f"{name}: not a recording ffmpeg can read ({reason}); "
                           f"supported: {SUPPORTED_TEXT}") from None
    fmt = data.get("format", {})
    format_name = fmt.get("format_name", "")
    if not set(format_name.split(",")) & ACCEPTED_FORMATS:
        raise InvalidInput(f"{name}: {format_name or 'unknown'} files are not accepted as recordings; "
                           f"supported: {SUPPORTED_TEXT}")
    streams = data.get("streams", [])
    video = audio = None
    for s in streams:
        if s.get("codec_type") == "video" and video is None and not (s.get("disposition") or {}).get("attached_pic"):
            video = {"codec": s.get("codec_name"), "width": s.get("width"), "height": s.get("height"),
                     "pix_fmt": s.get("pix_fmt"), "fps": _rate(s.get("avg_frame_rate")),
                     "bit_rate": _num(s.get("bit_rate"), int), "field_order": s.get("field_order"),
                     "frames": _num(s.get("nb_frames"), int)}
        elif s.get("codec_type") == "audio" and audio is None:
            audio = {"codec": s.get("codec_name"), "channels": s.get("channels"),
                     "sample_rate": _num(s.get("sample_rate"), int), "bit_rate": _num(s.get("bit_rate"), int),
                     "frames": _num(s.get("nb_frames"), int)}
    if video is None and audio is None:
        raise InvalidInput(f"{name}: the file has no audio or video stream")
    if video is not None and not (video["width"] and video["height"]):
        raise InvalidInput(f"{name}: the video stream has no picture size (damaged file?)")
    duration = _num(fmt.get("duration"))
    if not duration or duration <= 0:
        durations = [_num(s.get("duration")) for s in streams]
        duration = max([d for d in durations if d] or [0.0])
    if duration <= 0:
        raise InvalidInput(f"{name}: the recording has no duration (empty or damaged file)")
    info = MediaInfo(path, format_name, float(duration), path.stat().st_size, _num(fmt.get("bit_rate"), int),
                     video, audio, [{"index": s.get("index"), "type": s.get("codec_type"),
                                     "codec": s.get("codec_name")} for s in streams])
    if check:
        check_complete(info)
    return info


def check_complete(info: MediaInfo) -> None:
    """Reject truncated files: the last seconds must be readable up to the stated duration.

    Only the tail is read (ffprobe ``-read_intervals``), so this is cheap for long recordings.
    """
    name = info.path.name
    if "wav" in info.format_name.split(","):
        try:
            with wave.open(str(info.path), "rb") as w:
                expected = w.getnframes() * w.getsampwidth() * w.getnchannels()
            if expected > info.size:
                raise InvalidInput(f"{name}: the file is truncated (the header promises {expected} bytes of "
                                   f"sound, the file has {info.size})")
        except (wave.Error, EOFError):
            pass  # not PCM WAV: the generic check below applies
    start = max(0.0, info.duration - 5.0)
    proc = subprocess.run(["ffprobe", "-v", "error", "-read_intervals", f"{start:.3f}%",
                           "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", str(info.path)],
                          capture_output=True, text=True, timeout=300)
    errors = proc.stderr.lower()
    if any(m in errors for m in ("partial file", "ended prematurely", "truncat", "invalid data found")):
        last = re.sub(r"^\[[^\]]*\]\s*", "", proc.stderr.strip().splitlines()[-1])
        raise InvalidInput(f"{name}: the file is truncated or damaged (ffmpeg: {last[:160]})")
    ends = []
    for line in proc.stdout.splitlines():
        parts = line.split(",")
        pts, dur = _num(parts[0]), _num(parts[1]) if len(parts) > 1 else None
        if pts is not None:
            ends.append(pts + (dur or 0.0))
    if ends and max(ends) < info.duration - max(1.0, 0.02 * info.duration):
        raise InvalidInput(f"{name}: the file is truncated: it says {info.duration:.1f} s but the data stops "
                           f"at {max(ends):.1f} s")


# --------------------------------------------------------------------------------------------
# running ffmpeg


def _ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if not path:
        raise Unavailable("ffmpeg is not installed (run scripts/setup.sh)")
    return path


class FfmpegFailed(InvalidInput):
    """An ffmpeg run failed; ``stderr`` is what it said."""

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


def run_ffmpeg(args: list[str], *, total: float, on_progress: ProgressFn | None = None,
               what: str = "ffmpeg") -> float | None:
    """Run ``ffmpeg ARGS -progress pipe:1``, reporting seconds done (at most once a second).

    Returns the last ``out_time`` ffmpeg reported (seconds written), or None if it reported none.
    ``on_progress`` may raise (e.g. the job was cancelled): ffmpeg is then stopped and the
    exception propagates.
    """
    argv = [_ffmpeg(), "-nostdin", "-hide_banner", "-v", "error", "-y", "-progress", "pipe:1", "-nostats", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_chunks: list[str] = []
    drain = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    drain.start()
    last = 0.0
    written: float | None = None
    try:
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us":
                done = _num(value)
                if done is None or done < 0:
                    continue
                written = done / 1e6
                now = time.monotonic()
                if on_progress is not None and now - last >= 1.0:
                    last = now
                    on_progress(min(written, total))
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        drain.join(timeout=5)
    stderr = "".join(err_chunks)
    # ffmpeg exits 0 when writing the trailer fails (e.g. a reserved moov that is too small), the
    # output then being unusable: that is a failure too
    if proc.returncode != 0 or "Error writing trailer" in stderr:
        msg = stderr.strip().splitlines()
        raise FfmpegFailed(f"{what} failed: {msg[-1][:200] if msg else f'exit code {proc.returncode}'}",
                           stderr=stderr)
    if on_progress is not None:
        on_progress(total)
    return written


@dataclass
class Derivative:
    path: Path
    mime: str
    role: str
    tech: dict[str, Any] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def _rate_args(info: MediaInfo) -> list[str]:
    rate = (info.audio or {}).get("sample_rate")
    return [] if info.audio is None or rate in AAC_SAMPLE_RATES else ["-ar", "48000"]


def _out_rate(info: MediaInfo) -> int | None:
    rate = (info.audio or {}).get("sample_rate")
    return rate if rate in AAC_SAMPLE_RATES else 48000


#: room reserved at the front of a stream-copied video's web copy for its index (moov box) per
#: sample (video frame or audio packet), and on top for the boxes that do not grow with the length.
#: ffmpeg's tables take ~9.4 bytes per sample for H.264 with B-frames + AAC (sizes, chunk offsets,
#: composition offsets, key frames); 24 leaves room for short chunks and 64-bit offsets. Unused
#: room stays in the file as a ``free`` box (~0.4 % of a typical web copy).
MOOV_BYTES_PER_SAMPLE = 24
MOOV_FIXED_BYTES = 64 * 1024


def moov_reservation(info: MediaInfo) -> int | None:
    """Bytes to reserve for the moov box of a stream-copied video (``-moov_size``), or None.

    ``+faststart`` makes ffmpeg write the whole file and then move every byte of it to put the
    index in front — for an hours-long stream copy that second pass costs ~20 % of the run. For a
    stream copy the number of samples is known beforehand (the source's frame counts, else
    duration × rate), so the index's room can be reserved at the front instead and the file is
    written once, index first like ``+faststart``. Transcodes (their ffmpeg run is dominated by
    encoding) and audio (small files) keep ``+faststart``. If the room turns out too small,
    :func:`make_access` makes the copy again with ``+faststart``.
    """
    if not (info.is_video and info.web_compatible) or info.duration <= 0:
        return None
    samples = 0
    for stream, per_second in ((info.video, (info.video or {}).get("fps")),
                               (info.audio, ((info.audio or {}).get("sample_rate") or 0) / 1024)):
        if stream is None:
            continue
        frames = stream.get("frames")
        if not frames:
            if not per_second:
                return None  # nothing to estimate from
            frames = int(info.duration * per_second * 1.1) + 1
        samples += int(frames)
    return MOOV_FIXED_BYTES + MOOV_BYTES_PER_SAMPLE * samples


def access_args(info: MediaInfo, dest: Path, *, moov_size: int | None = None) -> tuple[list[str], bool]:
    """The ffmpeg arguments for the web copy; returns (args, stream_copied).

    ``moov_size`` reserves that many bytes at the front for the index instead of ``+faststart``
    (see :func:`moov_reservation`; both put the index before the media data)."""
    copy = info.web_compatible
    args = ["-i", str(info.path)]
    if info.is_video:
        args += ["-map", "0:v:0", "-map", "0:a:0?"]
        if copy:
            args += ["-c", "copy"]
        else:
            vf = "scale=trunc(iw/2)*2:trunc(ih/2)*2"
            if info.video.get("field_order") in ("tt", "bb", "tb", "bt"):
                vf = "yadif," + vf
            args += ["-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                     "-c:a", "aac", "-b:a", "128k", "-ac", "2", *_rate_args(info)]
        args += (["-moov_size", str(moov_size)] if moov_size else ["-movflags", "+faststart"])
        args += ["-f", "mp4", str(dest)]
    else:
        args += ["-map", "0:a:0", "-vn"]
        args += ["-c:a", "copy"] if copy else ["-c:a", "aac", "-b:a", "128k", *_rate_args(info)]
        args += ["-movflags", "+faststart", "-f", "ipod", str(dest)]
    return args, copy


WAVEFORM_SIZE = (1200, 200)


def waveform_args(dest: Path) -> list[str]:
    """ffmpeg output arguments drawing input 0's first audio stream as a PNG waveform (mono)."""
    w, h = WAVEFORM_SIZE
    return ["-filter_complex", f"[0:a:0]aformat=channel_layouts=mono,showwavespic=s={w}x{h}:colors=#2f5d7c[w]",
            "-map", "[w]", "-frames:v", "1", str(dest)]


def make_waveform(info: MediaInfo, workdir: Path) -> Derivative:
    """The waveform image (role ``waveform``) of a sound recording."""
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / "waveform.png"
    run_ffmpeg(["-i", str(info.path), *waveform_args(dest)], total=info.duration,
               what=f"drawing the waveform of {info.path.name}")
    return Derivative(dest, "image/png", "waveform", {"filter": "showwavespic"}, *WAVEFORM_SIZE)


def make_access(info: MediaInfo, workdir: Path, on_progress: ProgressFn | None = None) -> list[Derivative]:
    """Make the web copy (role ``access``).

    The web copy is not probed again (see the module docstring): :func:`access_facts` says what
    it holds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if info.is_video:
        dest, mime = workdir / "access.mp4", "video/mp4"
    else:
        dest, mime = workdir / "access.m4a", "audio/mp4"
    reserve = moov_reservation(info)
    started = time.monotonic()
    what = f"making the web copy of {info.path.name}"
    args, copied = access_args(info, dest, moov_size=reserve)
    try:
        written = run_ffmpeg(args, total=info.duration, on_progress=on_progress, what=what)
    except FfmpegFailed as exc:
        if not reserve or "reserved_moov_size is too small" not in exc.stderr:
            raise
        log.info("the room reserved for the index of %s was too small; making the web copy again with "
                 "+faststart", info.path.name)
        reserve = None
        args, copied = access_args(info, dest)
        written = run_ffmpeg(args, total=info.duration, on_progress=on_progress, what=what)
    seconds = time.monotonic() - started
    out = access_facts(info, dest, copied, written)
    tech = {**out, "stream_copied": copied, "index": "reserved" if reserve else "faststart",
            "seconds": round(seconds, 3),
            "realtime_factor": round(info.duration / seconds, 1) if seconds > 0 else None,
            "source": info.summary()}
    return [Derivative(dest, mime, "access", tech, width=(out.get("video") or {}).get("width"),
                       height=(out.get("video") or {}).get("height"), duration=out.get("duration"))]


def access_facts(info: MediaInfo, dest: Path, copied: bool, written: float | None) -> dict[str, Any]:
    """Facts about the web copy made by :func:`access_args` from ``info``, without ffprobe.

    Same keys as :func:`probe_output`. A stream copy keeps the source's streams; a transcode has
    what the arguments set (H.264 yuv420p at the even-trimmed size; AAC at 128 kb/s, stereo for
    video, at the source's rate when AAC has it, else 48 kHz). ``written`` is ffmpeg's last
    reported ``out_time``; the size is the file's.
    """
    size = os.path.getsize(dest)
    duration = round(written, 3) if written and written > 0 else round(info.duration, 3)
    facts: dict[str, Any] = {"format": "mov,mp4,m4a,3gp,3g2,mj2", "duration": duration,
                             "bit_rate": int(size * 8 / duration) if duration > 0 else None, "size": size}
    v, a = info.video, info.audio
    if v is not None:
        if copied:
            facts["video"] = {k: v.get(k) for k in ("codec", "width", "height", "pix_fmt", "bit_rate")}
        else:
            facts["video"] = {"codec": "h264", "width": v["width"] // 2 * 2, "height": v["height"] // 2 * 2,
                              "pix_fmt": "yuv420p", "bit_rate": None}
    if a is not None:
        if copied:
            facts["audio"] = {k: a.get(k) for k in ("codec", "channels", "sample_rate", "bit_rate")}
        else:
            facts["audio"] = {"codec": "aac", "channels": 2 if v is not None else a.get("channels"),
                              "sample_rate": _out_rate(info), "bit_rate": 128000}
    return facts


def probe_output(path: Path) -> dict[str, Any]:
    """Facts about a derivative by ffprobe (codecs, duration, bit rate, size); the tests check
    :func:`access_facts` against it."""
    data = ffmpeg.probe(str(path))
    fmt = data.get("format", {})
    facts: dict[str, Any] = {"format": fmt.get("format_name"), "duration": _num(fmt.get("duration")),
                             "bit_rate": _num(fmt.get("bit_rate"), int), "size": os.path.getsize(path)}
    for s in data.get("streams", []):
        if s.get("codec_type") == "video" and "video" not in facts:
            facts["video"] = {"codec": s.get("codec_name"), "width": s.get("width"), "height": s.get("height"),
                              "pix_fmt": s.get("pix_fmt"), "bit_rate": _num(s.get("bit_rate"), int)}
        elif s.get("codec_type") == "audio" and "audio" not in facts:
            facts["audio"] = {"codec": s.get("codec_name"), "channels": s.get("channels"),
                              "sample_rate": _num(s.get("sample_rate"), int), "bit_rate": _num(s.get("bit_rate"), int)}
    return facts


STRIP_FRAMES = 10


def poster_time(info: MediaInfo) -> float:
    """10 % into the video, at most 30 s in."""
    return min(info.duration * 0.1, 30.0)


def stills_args(info: MediaInfo, poster: Path, strip: Path, frames: int = STRIP_FRAMES) -> list[str]:
    """One ffmpeg run for the poster (JPEG, at most 960 px wide, the exact frame at
    :func:`poster_time`) and the strip (``frames`` frames, 160 px wide each, side by side).

    Each strip frame comes from its own input opened with a fast seek (``-noaccurate_seek``: the key
    frame at or before the time), and only its first frame is used (``trim``), so a few frames are
    decoded whatever the length of the recording; the poster input seeks accurately (decodes at
    most one GOP). ``-ss`` before ``-i`` is ffmpeg's documented fast input seeking.
    """
    args: list[str] = []
    graph = []
    for i in range(frames):
        at = info.duration * i / frames
        args += ["-noaccurate_seek", "-ss", f"{at:.3f}", "-i", str(info.path)]
        graph.append(f"[{i}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale=160:-2[s{i}]")
    args += ["-ss", f"{poster_time(info):.3f}", "-i", str(info.path)]
    graph.append("".join(f"[s{i}]" for i in range(frames)) + f"hstack=inputs={frames}[strip]")
    graph.append(f"[{frames}:v:0]trim=end_frame=1,scale='min(960,iw)':-2[poster]")
    return args + ["-filter_complex", ";".join(graph),
                   "-map", "[strip]", "-frames:v", "1", "-q:v", "4", str(strip),
                   "-map", "[poster]", "-frames:v", "1", "-q:v", "3", str(poster)]


def make_stills(info: MediaInfo, workdir: Path) -> list[Derivative]:
    """The poster and the thumbnail strip (:func:`stills_args`); if that run fails (a file whose
    index does not allow seeking) they are made the slow way, reading the whole file."""
    workdir.mkdir(parents=True, exist_ok=True)
    poster, strip = workdir / "poster.jpg", workdir / "strip.jpg"
    try:
        run_ffmpeg(stills_args(info, poster, strip), total=info.duration,
                   what=f"making the poster and strip of {info.path.name}")
        sizes = _image_size(poster), _image_size(strip)
    except (InvalidInput, OSError) as exc:
        log.info("fast stills failed for %s (%s); reading the whole file", info.path.name, exc)
        return [make_poster(info, workdir), make_strip(info, workdir)]
    return [Derivative(poster, "image/jpeg", "poster", {"at": round(poster_time(info), 3)}, *sizes[0]),
            Derivative(strip, "image/jpeg", "strip", {"frames": STRIP_FRAMES, "seek": "fast"}, *sizes[1])]


def make_poster(info: MediaInfo, workdir: Path) -> Derivative:
    """A poster frame (JPEG, at most 960 px wide) from 10 % into the video (at most 30 s in)."""
    dest = workdir / "poster.jpg"
    at = poster_time(info)
    run_ffmpeg(["-ss", f"{at:.3f}", "-i", str(info.path), "-map", "0:v:0", "-frames:v", "1",
                "-vf", "scale='min(960,iw)':-2", "-q:v", "3", str(dest)], total=info.duration,
               what=f"making the poster of {info.path.name}")
    w, h = _image_size(dest)
    return Derivative(dest, "image/jpeg", "poster", {"at": round(at, 3)}, w, h)


def make_strip(info: MediaInfo, workdir: Path, frames: int = STRIP_FRAMES) -> Derivative:
    """A thumbnail strip: ``frames`` evenly spaced frames side by side (JPEG).

    Only key frames are decoded (``-skip_frame nokey``), so a long video costs little; ``fps``
    repeats the nearest key frame and ``tpad`` repeats the last one so the strip is always full.
    """
    dest = workdir / "strip.jpg"
    rate = frames / max(info.duration, 0.1)
    run_ffmpeg(["-skip_frame", "nokey", "-i", str(info.path), "-map", "0:v:0", "-an",
                "-vf", f"tpad=stop_mode=clone:stop_duration={info.duration:.3f},fps={rate:.6f},scale=160:-2,"
                f"tile={frames}x1", "-frames:v", "1", "-q:v", "4", str(dest)],
               total=info.duration, what=f"making the thumbnail strip of {info.path.name}")
    w, h = _image_size(dest)
    return Derivative(dest, "image/jpeg", "strip", {"frames": frames}, w, h)


def _image_size(path: Path) -> tuple[int | None, int | None]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size
