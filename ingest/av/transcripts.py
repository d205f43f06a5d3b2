"""Time-coded transcripts and indexes: WebVTT, SRT and a plain-text index, as Segments.

Formats (detected by content, not by file name):

* **WebVTT** (``WEBVTT`` first line), read with webvtt-py; ``<v Speaker>`` gives the speaker.
* **SRT** (numbered cues with ``00:00:01,000 --> 00:00:02,000``), read with webvtt-py.
* **Time-coded text index**, one segment per line::

      00:00:05 陳伯: 我細個喺西關長大。          ← transcript line (speaker optional)
      [00:01:10.5] 佢哋成日去飲茶。              ← brackets and fractions allowed
      00:02:00 | 童年 | 西關; 飲茶 | 講述童年生活   ← OHMS-style chapter: title | keywords | synopsis

  A segment ends where the next one of its kind starts (the last at the end of the recording).
  Lines without a time code continue the previous segment; ``#`` starts a comment line.

Encodings: UTF-8 (with or without BOM, or UTF-16 with BOM), then GB18030 / Big5-HKSCS chosen by
charset-normalizer, else a clear error. Every time code must lie within the recording.
"""
from __future__ import annotations

import html
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import webvtt

from config import InvalidInput

MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024
#: how far a time code may overshoot the probed duration (container rounding)
TOLERANCE = 0.5
SIDECAR_SUFFIXES = (".vtt", ".srt", ".txt")
MIME = {"vtt": "text/vtt", "srt": "application/x-subrip", "text": "text/plain"}


@dataclass
class SegmentData:
    """One parsed segment, before it becomes a :class:`repository.models.Segment`."""

    start: float
    end: float
    text: str = ""
    speaker: str | None = None
    kind: str = "transcript"  # transcript | chapter
    title: str | None = None
    keywords: list[str] = field(default_factory=list)
    synopsis: str | None = None
    line: int = 0  # where it came from, for error messages


@dataclass
class Transcript:
    format: str  # vtt | srt | text
    encoding: str
    segments: list[SegmentData]

    @property
    def mime(self) -> str:
        return MIME[self.format]


# ---- decoding -------------------------------------------------------------------------------


def decode(data: bytes, name: str = "transcript") -> tuple[str, str]:
    """Text and encoding of a transcript: UTF-8/UTF-16 (BOM), else GB18030 or Big5-HKSCS."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise InvalidInput(f"{name}: damaged UTF-16 text") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5hkscs", "big5"]).best()
    if best is None:
        raise InvalidInput(f"{name}: the text is not UTF-8, GB18030 or Big5; save it as UTF-8 and try again")
    return str(best), best.encoding


# ---- time codes -----------------------------------------------------------------------------

_TIME = re.compile(r"^(?:(\d{1,3}):)?([0-5]?\d):([0-5]\d)(?:[.,](\d{1,3}))?$")


def parse_time(text: str) -> float:
    """``hh:mm:ss[.mmm]`` or ``mm:ss[.mmm]`` (comma allowed) → seconds."""
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(f"not a time code: {text!r}")
    h, mi, s, frac = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + int(s) + (int(frac.ljust(3, "0")) / 1000 if frac else 0.0)


def format_time(seconds: float, sep: str = ".") -> str:
    """Seconds → ``hh:mm:ss.mmm`` (WebVTT style)."""
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


# ---- parsing --------------------------------------------------------------------------------

_SRT_START = re.compile(r"^\s*\d+\s*\n\s*\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}\s*-->", re.M)
_TEXT_LINE = re.compile(r"^\s*\[?(\d{1,3}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?)\]?(?:\s*[-–|]\s*|\s+|$)(.*)$")
_SPEAKER = re.compile(r"^([^\s:：，。,.!?！？|][^:：，。,.!?！？|]{0,19}?)(?::\s+|：\s*)(\S.*)$")
_KEYWORD_SPLIT = re.compile(r"\s*[;；,，、]\s*")


def detect_format(text: str) -> str:
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        return "vtt"
    if _SRT_START.match(head):
        return "srt"
    return "text"


def parse(data: bytes, name: str = "transcript") -> Transcript:
    """Parse transcript bytes in any supported format and encoding (times not yet checked)."""
    if not data.strip():
        raise InvalidInput(f"{name}: the transcript is empty")
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise InvalidInput(f"{name}: the transcript is larger than {MAX_TRANSCRIPT_BYTES // 2**20} MB")
    text, encoding = decode(data, name)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if "\x00" in text:
        raise InvalidInput(f"{name}: not a text file (contains NUL bytes)")
    fmt = detect_format(text)
    segments = _parse_cues(text, fmt, name) if fmt in ("vtt", "srt") else _parse_index(text, name)
    if not segments:
        raise InvalidInput(f"{name}: no time-coded segments found (expected WebVTT, SRT, or lines starting "
                           f"with a time code like 00:01:23)")
    return Transcript(fmt, encoding, segments)


def _parse_cues(text: str, fmt: str, name: str) -> list[SegmentData]:
    label = "WebVTT" if fmt == "vtt" else "SRT"
    try:
        doc = webvtt.from_buffer(io.StringIO(text), format=fmt, strict=True)
    except Exception as exc:  # webvtt-py raises its own MalformedFileError / MalformedCaptionError
        raise InvalidInput(f"{name}: not valid {label} ({exc})") from None
    arrows = [i + 1 for i, line in enumerate(text.split("\n")) if "-->" in line]
    if len(arrows) != len(doc.captions):
        # webvtt-py silently skips cues it cannot read; we do not
        bad = _first_bad_cue(text)
        raise InvalidInput(f"{name}: not valid {label}: {bad}")
    if not doc.captions and text.strip() not in ("WEBVTT",):
        raise InvalidInput(f"{name}: not valid {label}: no cue like '00:00:01.000 --> 00:00:04.000' found")
    out = []
    for cap, line in zip(doc.captions, arrows):
        start, end = parse_time(cap.start), parse_time(cap.end)
        body = " ".join(cap.text.split("\n")).strip()
        if fmt == "vtt":  # WebVTT escapes & < > as character references; webvtt-py leaves them
            body = html.unescape(body)
        speaker = cap.voice if fmt == "vtt" else None
        if speaker is None and fmt == "srt":
            speaker, body = _split_speaker(body)
        out.append(SegmentData(start, end, body, speaker, line=line))
    return out


def _first_bad_cue(text: str) -> str:
    for i, line in enumerate(text.split("\n"), 1):
        if "-->" in line:
            left, _, right = line.partition("-->")
            try:
                parse_time(left)
                parse_time(right.split()[0] if right.split() else "")
            except ValueError:
                return f"line {i}: bad cue timing {line.strip()!r}"
    return "a cue could not be read"


def _split_speaker(body: str) -> tuple[str | None, str]:
    m = _SPEAKER.match(body)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return None, body


def _parse_index(text: str, name: str) -> list[SegmentData]:
    out: list[SegmentData] = []
    last_start = -1.0
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _TEXT_LINE.match(line)
        if m is None:
            if not out:
                raise InvalidInput(f"{name}: line {n}: expected a time code like 00:01:23 at the start, "
                                   f"got {line[:40]!r}")
            seg = out[-1]
            low = line.lower()
            if seg.kind == "chapter" and low.startswith(("keywords:", "關鍵詞：", "关键词：")):
                seg.keywords += [k for k in _KEYWORD_SPLIT.split(line.split(":", 1)[-1].split("：", 1)[-1]) if k]
            elif seg.kind == "chapter" and low.startswith(("synopsis:", "摘要：")):
                seg.synopsis = ((seg.synopsis or "") + " " + re.split(r"[:：]", line, 1)[1].strip()).strip()
            else:
                seg.text = f"{seg.text} {line}".strip()
            continue
        stamp, rest = m.group(1), m.group(2).strip()
        try:
            start = parse_time(stamp)
        except ValueError:
            raise InvalidInput(f"{name}: line {n}: {stamp!r} is not a time code (use hh:mm:ss)") from None
        if start < last_start:
            raise InvalidInput(f"{name}: line {n}: {stamp} comes before the previous time code; "
                               f"lines must be in time order")
        last_start = start
        if "|" in rest:
            parts = [p.strip() for p in rest.split("|")]
            title = parts[0] or None
            keywords = [k for k in _KEYWORD_SPLIT.split(parts[1]) if k] if len(parts) > 1 else []
            synopsis = " | ".join(parts[2:]).strip() or None
            text_ = " ".join(p for p in (title, synopsis) if p)
            out.append(SegmentData(start, start, text_, None, "chapter", title, keywords, synopsis, line=n))
        else:
            speaker, body = _split_speaker(rest)
            out.append(SegmentData(start, start, body, speaker, line=n))
    # a segment ends where the next of its kind starts; the last ones end at the recording's end
    for kind in ("transcript", "chapter"):
        same = [s for s in out if s.kind == kind]
        for a, b in zip(same, same[1:]):
            a.end = b.start
        if same:
            same[-1].end = float("inf")  # closed by check_times
    return out


def check_times(transcript: Transcript, duration: float | None, name: str = "transcript") -> Transcript:
    """Close open ends at ``duration`` and refuse time codes outside the recording."""
    limit = duration if duration else None
    for seg in transcript.segments:
        if seg.end == float("inf"):
            seg.end = max(seg.start, limit if limit is not None else seg.start)
        if seg.start < 0 or seg.end < seg.start:
            raise InvalidInput(f"{name}: line {seg.line}: the segment ends ({format_time(seg.end)}) "
                               f"before it starts ({format_time(seg.start)})")
        if limit is not None and (seg.start > limit + TOLERANCE or seg.end > limit + TOLERANCE):
            worst = seg.end if seg.end > limit + TOLERANCE else seg.start
            raise InvalidInput(f"{name}: line {seg.line}: time {format_time(worst)} is beyond the end of the "
                               f"recording ({format_time(limit)})")
        if limit is not None:
            seg.end = min(seg.end, limit)
            seg.start = min(seg.start, seg.end)
    return transcript


def load(path: Path, duration: float | None) -> Transcript:
    """Read, decode, parse and time-check a transcript file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such transcript file: {path}")
    if path.stat().st_size > MAX_TRANSCRIPT_BYTES:
        raise InvalidInput(f"{path.name}: the transcript is larger than {MAX_TRANSCRIPT_BYTES // 2**20} MB")
    return check_times(parse(path.read_bytes(), path.name), duration, path.name)


def sidecar(media: Path) -> Path | None:
    """A transcript with the same basename beside ``media`` (``.vtt``, ``.srt`` or ``.txt``)."""
    for suffix in SIDECAR_SUFFIXES:
        for cand in (media.with_suffix(suffix), media.with_suffix(suffix.upper())):
            if cand.is_file() and cand != media:
                return cand
    return None


# ---- rendering ------------------------------------------------------------------------------


def to_webvtt(segments: list[SegmentData] | list, *, kind: str = "transcript") -> str:
    """A WebVTT document of the segments of ``kind`` (speakers as ``<v>`` voice spans)."""
    doc = webvtt.WebVTT()
    for seg in segments:
        if seg.kind != kind:
            continue
        body = (seg.text or seg.title or "").replace("-->", "→").strip() or "…"
        body = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if seg.speaker:
            body = f"<v {seg.speaker.replace('>', '')}>{body}</v>"
        end = seg.end if seg.end > seg.start else seg.start + 0.001
        doc.captions.append(webvtt.Caption(start=format_time(seg.start), end=format_time(end), text=body))
    return doc.content


def write_temp(text: str, suffix: str, directory: Path | None = None) -> Path:
    """Write ``text`` to a temporary UTF-8 file (the caller removes it)."""
    directory = directory or Path(tempfile.gettempdir())
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=suffix, dir=directory)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(name)
