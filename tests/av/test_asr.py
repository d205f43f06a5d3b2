"""The speech-recognition seam: a transcriber plugin turns a recording into stored segments.

No model ships, so the plugin here finds where speech is with ffmpeg's silencedetect on real
espeak-ng Cantonese speech — a real analysis of the audio, checked against where the sentences are.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from sqlalchemy import select

from ingest.av import asr
from ingest.av.transcripts import SegmentData
from repository.models import Segment


class SilenceSplitter:
    """One segment per stretch of sound between silences."""

    name = "silence-splitter"

    def transcribe(self, media_path: Path, *, language: str = "yue") -> list[SegmentData]:
        out = subprocess.run(["ffmpeg", "-nostdin", "-i", str(media_path), "-af", "silencedetect=noise=-40dB:d=0.4",
                              "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
        silence_starts = [float(x) for x in re.findall(r"silence_start: ([\d.]+)", out)]
        silence_ends = [float(x) for x in re.findall(r"silence_end: ([\d.]+)", out)]
        starts = [0.0] + silence_ends
        segs = []
        for i, start in enumerate(starts):
            later = [s for s in silence_starts if s > start]
            end = later[0] if later else start
            if end > start:
                segs.append(SegmentData(round(start, 3), round(end, 3), f"片段 {i + 1}", speaker=language))
        return segs


def test_transcriber_plugin_segments_are_stored(cli, repo, media, ingest_one):
    wav, starts = media.speech()
    item_id = ingest_one(wav)
    asr.register(SilenceSplitter.name, SilenceSplitter)
    assert SilenceSplitter.name in asr.available()
    r = cli("transcript", "asr", item_id, "--engine", SilenceSplitter.name)
    assert r.code == 0, r.err
    with repo.session() as s:
        segs = list(s.scalars(select(Segment).where(Segment.item_id == item_id).order_by(Segment.start)))
    assert len(segs) == len(starts)
    for seg, expected in zip(segs, starts):
        assert abs(seg.start - expected) < 0.35  # silencedetect vs. where espeak-ng's sentences begin
    assert segs[0].speaker == "yue" and segs[1].text == "片段 2"


def test_unknown_transcriber_is_a_clear_error(cli, repo, media, ingest_one):
    item_id = ingest_one(media.make("wav", 1.0))
    r = cli("transcript", "asr", item_id, "--engine", "whisper-large")
    assert r.code == 1 and "no transcriber 'whisper-large'" in r.err
