"""Transcript formats and encodings (no recording needed): WebVTT, SRT, time-coded text index."""
from __future__ import annotations

import pytest

from config import InvalidInput
from ingest.av import transcripts as tx

VTT = """WEBVTT

00:00:01.000 --> 00:00:03.500
<v 陳伯>我細個喺廣州西關長大。</v>

00:00:04.250 --> 00:00:06.000
佢哋成日去飲茶。
"""

SRT = """1
00:00:01,000 --> 00:00:03,500
陳伯: 我細個喺廣州西關長大。

2
00:00:04,250 --> 00:00:06,000
佢哋成日去飲茶，
食咗好多點心。
"""

INDEX = """# 口述史索引
00:00:00 | 童年 | 西關; 飲茶、點心 | 講述喺西關嘅童年生活
00:00:01 陳伯: 我細個喺廣州西關長大。
[00:00:04.5] 佢哋成日去飲茶。
  食咗好多點心。
00:00:07 | 戰時 | 逃難
Synopsis: 一家人逃難去澳門
00:00:08 嗰陣時冇電視。
"""


def test_webvtt_with_voice_spans():
    t = tx.check_times(tx.parse(VTT.encode(), "a.vtt"), 10.0)
    assert t.format == "vtt"
    assert [(s.start, s.end, s.speaker, s.text) for s in t.segments] == [
        (1.0, 3.5, "陳伯", "我細個喺廣州西關長大。"), (4.25, 6.0, None, "佢哋成日去飲茶。")]


def test_srt_with_speaker_prefix_and_multiline_cue():
    t = tx.check_times(tx.parse(SRT.encode(), "a.srt"), 10.0)
    assert t.format == "srt"
    assert t.segments[0].speaker == "陳伯" and t.segments[0].text == "我細個喺廣州西關長大。"
    assert t.segments[1].start == 4.25 and t.segments[1].text == "佢哋成日去飲茶， 食咗好多點心。"


def test_text_index_with_ohms_chapters():
    t = tx.check_times(tx.parse(INDEX.encode(), "index.txt"), 10.0)
    assert t.format == "text"
    chapters = [s for s in t.segments if s.kind == "chapter"]
    lines = [s for s in t.segments if s.kind == "transcript"]
    assert [(c.start, c.end, c.title) for c in chapters] == [(0.0, 7.0, "童年"), (7.0, 10.0, "戰時")]
    assert chapters[0].keywords == ["西關", "飲茶", "點心"] and chapters[0].synopsis == "講述喺西關嘅童年生活"
    assert chapters[1].keywords == ["逃難"] and chapters[1].synopsis == "一家人逃難去澳門"
    assert [(s.start, s.end, s.speaker) for s in lines] == [(1.0, 4.5, "陳伯"), (4.5, 8.0, None), (8.0, 10.0, None)]
    assert lines[1].text == "佢哋成日去飲茶。 食咗好多點心。"


@pytest.mark.parametrize("encoding", ["gb18030", "big5hkscs"])
def test_non_utf8_transcripts_are_decoded(encoding):
    text = SRT if encoding == "big5hkscs" else SRT.replace("喺", "在")  # GB18030 text in any script
    t = tx.parse(text.encode(encoding), "legacy.srt")
    assert t.encoding.replace("_", "") in (encoding, "big5hkscs", "big5", "gb18030")
    assert t.segments[0].text.startswith("我細個")
    assert "西關長大" in t.segments[0].text


def test_utf16_with_bom():
    t = tx.parse(VTT.encode("utf-16"), "a.vtt")
    assert t.segments[0].speaker == "陳伯"


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nhello\n", "no cue"),
    (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:0x:01.000 --> 00:00:02.000\nbad\n", "not valid WebVTT"),
    (b"1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:0y,000 --> 00:00:03,000\nhi\n", "not valid SRT"),
    (b"just some prose without any time codes\n", "expected a time code"),
    (b"00:00:05 later\n00:00:01 earlier\n", "time order"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not"),
])
def test_invalid_transcripts_are_refused_with_a_reason(data, reason):
    with pytest.raises(InvalidInput) as err:
        tx.check_times(tx.parse(data, "bad.vtt"), 10.0)
    assert reason in str(err.value)


def test_time_beyond_the_recording_is_refused():
    with pytest.raises(InvalidInput) as err:
        tx.check_times(tx.parse(VTT.encode(), "a.vtt"), 4.0)
    assert "beyond the end of the recording" in str(err.value) and "00:00:06.000" in str(err.value)


def test_webvtt_rendering_round_trips():
    t = tx.check_times(tx.parse(SRT.encode(), "a.srt"), 10.0)
    again = tx.parse(tx.to_webvtt(t.segments).encode(), "again.vtt")
    assert [(s.start, s.end, s.speaker, s.text) for s in again.segments] == [
        (s.start, s.end, s.speaker, s.text) for s in t.segments]


def test_markup_in_text_is_escaped_in_webvtt():
    segs = [tx.SegmentData(0, 1, "<script>alert(1)</script> & 嘅")]
    out = tx.to_webvtt(segs)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert tx.parse(out.encode()).segments[0].text == "<script>alert(1)</script> & 嘅"
