"""Generated test and demo material: Cantonese speech (espeak-ng ``-v yue``) and lavfi media.

Shared by the demo, the benchmarks and every test that needs a recording, so nothing binary is
committed: each file is made on the spot by the real tools.
"""
from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

from config import InvalidInput, Unavailable

#: kind -> (output args, needs video, needs audio). Audio is a sine tone, video a test pattern.
_MEDIA_KINDS: dict[str, tuple[list[str], bool, bool]] = {
    # already web-compatible: the pipeline must stream-copy these
    "mp4": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
             "-f", "mp4"], True, True),
    "m4a": (["-c:a", "aac", "-b:a", "96k", "-f", "ipod"], False, True),
    # need a transcode
    "wav": (["-c:a", "pcm_s16le", "-f", "wav"], False, True),
    "mp3": (["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"], False, True),
    "flac": (["-c:a", "flac", "-f", "flac"], False, True),
    "ogg": (["-c:a", "libvorbis", "-f", "ogg"], False, True),
    "opus": (["-c:a", "libopus", "-b:a", "48k", "-f", "ogg"], False, True),
    "mov": (["-c:v", "mpeg4", "-q:v", "5", "-c:a", "pcm_s16le", "-f", "mov"], True, True),
    "mkv": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "libvorbis",
             "-f", "matroska"], True, True),
    "avi": (["-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", "-f", "avi"], True, True),
    "mpg": (["-c:v", "mpeg2video", "-q:v", "5", "-c:a", "mp2", "-f", "mpeg"], True, True),
    "dv": (["-c:v", "dvvideo", "-pix_fmt", "yuv411p", "-c:a", "pcm_s16le", "-ar", "48000",
            "-ac", "2", "-f", "dv"], True, True),
    # bad or odd inputs
    "video-only": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mp4"], True, False),
}
MEDIA_KINDS = tuple(_MEDIA_KINDS)


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise Unavailable(f"{tool} is not installed (run scripts/setup.sh)")
    return path


def speak_cantonese(text: str, wav_path: Path | str, *, speed: int = 160) -> float:
    """Say ``text`` in Cantonese with espeak-ng into a WAV file; returns its length in seconds."""
    if not text.strip():
        raise InvalidInput("nothing to say: the text is empty")
    wav_path = Path(wav_path)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([_require("espeak-ng"), "-v", "yue", "-s", str(speed), "-w", str(wav_path), text],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not wav_path.is_file():
        raise Unavailable(f"espeak-ng failed: {proc.stderr.strip()[:200]}")
    with wave.open(str(wav_path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def make_test_media(kind: str, path: Path | str, seconds: float, *, size: str = "320x240",
                    audio: Path | str | None = None) -> Path:
    """Make a ``seconds``-long recording of ``kind`` (see :data:`MEDIA_KINDS`) with ffmpeg lavfi.

    ``audio`` (e.g. a :func:`speak_cantonese` WAV) replaces the sine tone; it is padded or cut
    to ``seconds``.
    """
    if kind not in _MEDIA_KINDS:
        raise InvalidInput(f"unknown test media kind {kind!r}; use one of {', '.join(MEDIA_KINDS)}")
    out_args, video, has_audio = _MEDIA_KINDS[kind]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [_require("ffmpeg"), "-nostdin", "-v", "error", "-y"]
    maps = []
    n = 0
    if video:
        vsize = "720x576" if kind == "dv" else size
        args += ["-f", "lavfi", "-i", f"testsrc2=size={vsize}:rate=25:duration={seconds}"]
        maps += ["-map", f"{n}:v"]
        n += 1
    if has_audio:
        if audio is not None:
            args += ["-i", str(audio)]
            maps += ["-map", f"{n}:a", "-af", f"apad=whole_dur={seconds}", "-ar", "48000" if kind == "dv" else "44100"]
        else:
            args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
            maps += ["-map", f"{n}:a"]
            if kind == "dv":
                maps += ["-ar", "48000"]
        n += 1
    args += maps + ["-t", str(seconds)] + out_args + [str(path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise Unavailable(f"ffmpeg could not make {kind} test media: {proc.stderr.strip()[-300:]}")
    return path
