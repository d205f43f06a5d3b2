"""Recording ingest end to end: probe, stream copy vs transcode, derivatives, transcripts, bad input."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config import InvalidInput
from ingest import av
from ingest.av import transcode
from repository.models import Event, File, Item, Job, Segment
from tests.av.conftest import SENTENCES, stored_objects


def _files(repo, item_id: int) -> dict[str, File]:
    with repo.session() as s:
        return {f.role: f for f in s.scalars(select(File).where(File.item_id == item_id))}


def _top_level_boxes(path: Path) -> list[str]:
    """The types of an MP4 file's top-level boxes, in file order."""
    import struct

    boxes, size = [], path.stat().st_size
    with open(path, "rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            head = fh.read(16)
            length, kind = struct.unpack(">I4s", head[:8])
            if length == 1:
                length = struct.unpack(">Q", head[8:16])[0]
            assert length >= 8, f"bad box at {pos}"
            boxes.append(kind.decode("latin-1"))
            pos += length
    return boxes


def _decodes_cleanly(path: Path) -> bool:
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True)
    return out.returncode == 0 and not out.stderr.strip()


def _stream_md5(path: Path, stream: str) -> str:
    """MD5 of the *packets* of one stream (no decoding): equal only if nothing was re-encoded."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:{stream}:0",
                          "-c", "copy", "-f", "md5", "-"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("kind, item_type", [
    ("wav", "Sound"), ("mp3", "Sound"), ("flac", "Sound"), ("m4a", "Sound"), ("ogg", "Sound"), ("opus", "Sound"),
    ("mp4", "MovingImage"), ("mov", "MovingImage"), ("mkv", "MovingImage"), ("avi", "MovingImage"),
    ("mpg", "MovingImage"), ("dv", "MovingImage"),
])
def test_every_accepted_format_is_probed(media, kind, item_type):
    path = media.make(kind, 1.5)
    assert av.is_media(path)
    info = av.probe(path)
    assert info.item_type == item_type
    assert abs(info.duration - 1.5) < 0.2
    assert info.web_compatible == (kind in ("mp4", "m4a"))


def test_h264_aac_video_is_stream_copied(repo, media, ingest_one):
    src = media.make("mp4", 3.0, speech=True)
    item_id = ingest_one(src)
    files = _files(repo, item_id)
    access = files["access"]
    assert access.mime == "video/mp4" and access.tech["stream_copied"] is True
    stored = repo.store.path(access.sha256)
    # no re-encode: the packets of both streams are byte-identical to the original's
    assert _stream_md5(stored, "v") == _stream_md5(src, "v")
    assert _stream_md5(stored, "a") == _stream_md5(src, "a")
    # the index (moov box) comes before the media data, written once into room reserved up front
    boxes = _top_level_boxes(stored)
    assert boxes.index("moov") < boxes.index("mdat") and access.tech["index"] == "reserved"
    assert access.tech["video"]["codec"] == "h264" and access.tech["audio"]["codec"] == "aac"
    assert {"poster", "strip"} <= set(files) and "waveform" not in files
    assert files["poster"].width == 320 and files["strip"].width == 1600
    with repo.session() as s:
        item = s.get(Item, item_id)
        assert item.type == "MovingImage" and item.state == "published" and abs(item.duration - 3.0) < 0.1
        assert s.scalar(select(func.count()).select_from(Event).where(
            Event.item_id == item_id, Event.type == "publication")) == 1
        job = s.scalar(select(Job).where(Job.item_id == item_id))
        assert job.state == "done" and job.progress["done"] == job.progress["total"] == pytest.approx(3.0, abs=0.1)


def test_a_stream_copy_whose_reserved_index_room_is_too_small_is_made_again_with_faststart(
        media, tmp_path, monkeypatch):
    """ffmpeg exits 0 when the reserved room is too small (the file is unusable): the pipeline
    notices and makes the web copy the usual way instead."""
    src = media.make("mp4", 3.0)
    info = transcode.probe(src)
    monkeypatch.setattr(transcode, "MOOV_BYTES_PER_SAMPLE", 0)
    monkeypatch.setattr(transcode, "MOOV_FIXED_BYTES", 200)
    assert transcode.moov_reservation(info) == 200
    (access,) = transcode.make_access(info, tmp_path / "work")
    assert access.tech["index"] == "faststart" and access.tech["stream_copied"] is True
    boxes = _top_level_boxes(access.path)
    assert boxes.index("moov") < boxes.index("mdat")
    assert _stream_md5(access.path, "v") == _stream_md5(src, "v") and _decodes_cleanly(access.path)


def test_a_matroska_h264_aac_recording_is_stream_copied_with_its_index_room_estimated(media, tmp_path):
    """Matroska says no frame counts: the room is estimated from duration x frame/packet rate."""
    mkv = tmp_path / "camera.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(media.make("mp4", 3.0)), "-c", "copy",
                    str(mkv)], check=True)
    info = transcode.probe(mkv)
    assert info.web_compatible and info.video["frames"] is None
    assert transcode.moov_reservation(info) is not None
    (access,) = transcode.make_access(info, tmp_path / "work")
    assert access.tech["index"] == "reserved"
    boxes = _top_level_boxes(access.path)
    assert boxes.index("moov") < boxes.index("mdat")
    assert _stream_md5(access.path, "v") == _stream_md5(mkv, "v") and _decodes_cleanly(access.path)


def test_transcodes_and_audio_keep_faststart(media):
    for kind in ("mpg", "m4a", "wav"):
        info = transcode.probe(media.make(kind, 1.5))
        assert transcode.moov_reservation(info) is None
        args, _ = transcode.access_args(info, Path("out"))
        assert "+faststart" in args and "-moov_size" not in args


def test_aac_audio_is_stream_copied_with_a_waveform(repo, media, ingest_one):
    src = media.make("m4a", 2.0)
    files = _files(repo, ingest_one(src))
    assert files["access"].mime == "audio/mp4" and files["access"].tech["stream_copied"] is True
    assert _stream_md5(repo.store.path(files["access"].sha256), "a") == _stream_md5(src, "a")
    assert files["waveform"].mime == "image/png" and (files["waveform"].width, files["waveform"].height) == (1200, 200)


@pytest.mark.parametrize("kind, video", [("wav", False), ("ogg", False), ("mpg", True), ("mov", True)])
def test_other_formats_are_transcoded(repo, media, ingest_one, kind, video):
    src = media.make(kind, 2.0)
    item_id = ingest_one(src, publish=False)
    files = _files(repo, item_id)
    access = files["access"]
    assert access.tech["stream_copied"] is False
    info = transcode.probe(repo.store.path(access.sha256))
    assert info.audio["codec"] == "aac" and info.web_compatible
    if video:
        assert access.mime == "video/mp4" and info.video["codec"] == "h264" and info.video["pix_fmt"] == "yuv420p"
        assert "poster" in files
    else:
        assert access.mime == "audio/mp4" and info.video is None and "waveform" in files
    assert access.tech["source"]["duration"] == pytest.approx(2.0, abs=0.1)
    with repo.session() as s:
        assert s.get(Item, item_id).state == "draft"


def test_progress_is_reported_in_seconds(media, tmp_path):
    info = transcode.probe(media.make("wav", 3.0))
    seen: list[float] = []
    transcode.make_access(info, tmp_path / "out", on_progress=seen.append)
    assert seen and seen[-1] == pytest.approx(3.0, abs=0.05)
    assert all(0 <= s <= 3.0 for s in seen)


def test_sidecar_transcript_is_imported_with_the_item(repo, media, ingest_one, tmp_path):
    src = media.make("mp4", 3.0, name="interview.mp4")
    src.with_suffix(".srt").write_text(
        "1\n00:00:00,500 --> 00:00:01,500\n陳伯: 我細個喺廣州西關長大。\n\n2\n00:00:01,500 --> 00:00:02,900\n佢哋成日去飲茶。\n",
        encoding="utf-8")
    item_id = ingest_one(src)
    with repo.session() as s:
        segs = list(s.scalars(select(Segment).where(Segment.item_id == item_id).order_by(Segment.start)))
    assert [(x.start, x.end, x.speaker) for x in segs] == [(0.5, 1.5, "陳伯"), (1.5, 2.9, None)]
    files = _files(repo, item_id)
    assert files["transcript"].filename == "interview.srt" and files["webvtt"].mime == "text/vtt"
    assert repo.store.path(files["webvtt"].sha256).read_text(encoding="utf-8").startswith("WEBVTT")


def test_cli_ingest_with_transcript_then_attach_later(cli, repo, oral, media, tmp_path):
    src = media.make("wav", 3.0)
    first = tmp_path / "first.txt"
    first.write_bytes("00:00:00 第一句\n00:00:02 第二句\n".encode("big5hkscs"))
    r = cli("ingest", src, "--collection", oral, "--transcript", first, "--wait")
    assert r.code == 0, r.err
    item_id = int(r.out.split()[0])
    later = tmp_path / "later.vtt"
    later.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n<v 阿婆>啲嘢冚唪唥都冇咗。</v>\n", encoding="utf-8")
    r = cli("transcript", "attach", item_id, later)
    assert r.code == 0, r.err
    assert "1 segments" in r.out
    with repo.session() as s:
        segs = list(s.scalars(select(Segment).where(Segment.item_id == item_id)))
        roles = [f.role for f in s.scalars(select(File).where(File.item_id == item_id))]
    assert [(x.text, x.speaker) for x in segs] == [("啲嘢冚唪唥都冇咗。", "阿婆")]
    assert roles.count("transcript") == 1 and roles.count("webvtt") == 1


def test_attach_refuses_bad_transcripts_and_keeps_the_old_one(cli, repo, media, ingest_one, tmp_path):
    item_id = ingest_one(media.make("wav", 2.0))
    ok = tmp_path / "ok.vtt"
    ok.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n舊嘅\n", encoding="utf-8")
    assert cli("transcript", "attach", item_id, ok).code == 0
    before = sorted(stored_objects(repo))
    late = tmp_path / "late.vtt"
    late.write_text("WEBVTT\n\n00:00.000 --> 00:09.000\n太長\n", encoding="utf-8")
    r = cli("transcript", "attach", item_id, late)
    assert r.code == 1 and "beyond the end of the recording" in r.err and len(r.err.strip().splitlines()) == 1
    assert cli("transcript", "attach", 9999, ok).code == 1
    assert sorted(stored_objects(repo)) == before
    with repo.session() as s:
        assert [x.text for x in s.scalars(select(Segment).where(Segment.item_id == item_id))] == ["舊嘅"]


def _no_subtitle_only(tmp_path: Path) -> Path:
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    out = tmp_path / "subtitles-only.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(srt), "-c:s", "srt", str(out)], check=True)
    return out


def _truncated(media, tmp_path: Path, kind: str) -> Path:
    src = media.make(kind, 3.0)
    if kind == "mp4":  # faststart first, so the header survives and only the data is cut
        fast = tmp_path / "fast.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c", "copy",
                        "-movflags", "+faststart", str(fast)], check=True)
        src = fast
    data = src.read_bytes()
    out = tmp_path / f"truncated.{kind}"
    out.write_bytes(data[: len(data) // 2])
    return out


@pytest.mark.parametrize("case, reason", [
    ("text-as-mp4", "not a supported file"),
    ("no-stream", "no audio or video stream"),
    ("truncated-mp4", "truncated"),
    ("truncated-mkv", "truncated"),
    ("truncated-wav", "truncated"),
    ("bad-transcript", "not valid WebVTT"),
    ("late-transcript", "beyond the end of the recording"),
    ("latin1-transcript", "not UTF-8, GB18030 or Big5"),
])
def test_bad_input_leaves_no_item_and_no_file(cli, repo, oral, media, tmp_path, case, reason):
    extra: list = []
    if case == "text-as-mp4":
        path = tmp_path / "notes.mp4"
        path.write_text("這不是錄音，只是一段文字。\n" * 20, encoding="utf-8")
    elif case == "no-stream":
        path = _no_subtitle_only(tmp_path)
    elif case.startswith("truncated"):
        path = _truncated(media, tmp_path, case.split("-")[1])
    else:
        path = media.make("wav", 2.0, name="talk.wav")
        tr = tmp_path / "talk.vtt"
        if case == "bad-transcript":
            tr.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nok\n\nxx:00.000 --> 00:01.500\nbad\n", encoding="utf-8")
        elif case == "late-transcript":
            tr.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nok\n\n00:00:01.000 --> 00:00:30.000\n太遲\n",
                          encoding="utf-8")
        else:
            tr.write_bytes(b"WEBVTT\n\n00:00.000 --> 00:01.000\ncaf\xe9 \xa9 \xff\xfe\x80\n")
        extra = ["--transcript", tr]
    r = cli("ingest", path, "--collection", oral, *extra)
    assert r.code == 1 and reason in r.err, r
    assert len(r.err.strip().splitlines()) == 1
    with repo.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
        assert s.scalar(select(func.count()).select_from(File)) == 0
    assert stored_objects(repo) == []


def test_prepare_refuses_before_anything_is_stored(repo, oral, media, tmp_path):
    from ingest.intake import IngestOptions, create_item

    with pytest.raises(InvalidInput):
        create_item(repo, [_truncated(media, tmp_path, "mkv")], IngestOptions(collection=oral))
    assert stored_objects(repo) == []


def test_job_failure_marks_the_item_failed_with_the_reason(repo, media, oral):
    """A recording that breaks only during the transcode: item 'failed', error names the file."""
    from ingest.intake import IngestOptions, ingest_paths, wait_for

    src = media.make("wav", 2.0, name="fine.wav")
    created = ingest_paths(repo, [src], IngestOptions(collection=oral, publish=True))
    item_id, job_id = created[0]
    with repo.session() as s:  # the stored original gets damaged after ingest (e.g. disk trouble)
        original = s.scalar(select(File).where(File.item_id == item_id, File.role == "original"))
        stored = repo.store.path(original.sha256)
    stored.chmod(0o644)
    stored.write_bytes(b"RIFF" + b"\x00" * 10)
    jobs = wait_for(repo, [job_id], poll=0.05)
    assert jobs[0].state == "failed"
    with repo.session() as s:
        item = s.get(Item, item_id)
        assert item.state == "failed" and item.published_at is None
        assert item.error.startswith("fine.wav:")
        assert s.scalar(select(func.count()).select_from(File).where(
            File.item_id == item_id, File.role == "access")) == 0


def test_speech_material_is_cantonese_espeak(media):
    wav, starts = media.speech()
    info = transcode.probe(wav)
    assert info.audio is not None and info.duration > len(SENTENCES)
    assert starts[0] == 0 and starts == sorted(starts)


def test_attach_to_a_non_recording_is_refused(cli, repo, oral, tmp_path):
    from repository import catalog

    with repo.unit_of_work("test") as uow:
        item = Item(collection=catalog.collection(uow.session, oral), title="族譜", type="Text", state="draft")
        uow.session.add(item)
        uow.session.flush()
        item_id = item.id
    vtt = tmp_path / "a.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n嘅\n", encoding="utf-8")
    r = cli("transcript", "attach", item_id, vtt)
    assert r.code == 1 and "not a recording" in r.err


def test_plain_text_is_not_media(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("00:00:01 呢個係索引，唔係錄音。\n", encoding="utf-8")
    assert av.is_media(p) is False


@pytest.mark.parametrize("kind", ["mp4", "m4a", "wav", "ogg", "mpg", "mov", "dv"])
def test_recorded_facts_of_the_web_copy_match_ffprobe(media, tmp_path, kind):
    """make_access does not probe its own output; what it records must be what ffprobe finds."""
    info = transcode.probe(media.make(kind, 2.0))
    access = transcode.make_access(info, tmp_path / "out")[0]
    real = transcode.probe_output(access.path)
    recorded = access.tech
    assert recorded["format"] == real["format"] and recorded["size"] == real["size"]
    assert recorded["duration"] == pytest.approx(real["duration"], abs=0.1)
    assert recorded["bit_rate"] == pytest.approx(real["bit_rate"], rel=0.1)
    for kind_ in ("video", "audio"):
        assert (kind_ in recorded) == (kind_ in real)
        if kind_ in real:
            for key in ("codec", "width", "height", "pix_fmt", "channels", "sample_rate"):
                assert recorded[kind_].get(key) == real[kind_].get(key), (kind_, key)
    assert (access.width, access.height) == ((real.get("video") or {}).get("width"),
                                             (real.get("video") or {}).get("height"))


def test_odd_sample_rate_is_resampled_to_a_known_rate(tmp_path):
    src = tmp_path / "odd.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=sample_rate=37800:duration=1",
                    str(src)], check=True)
    info = transcode.probe(src)
    access = transcode.make_access(info, tmp_path / "out")[0]
    assert access.tech["audio"]["sample_rate"] == transcode.probe_output(access.path)["audio"]["sample_rate"] == 48000


def test_poster_and_strip_come_from_one_fast_run(media, tmp_path):
    info = transcode.probe(media.make("mpg", 4.0))
    poster, strip = transcode.make_stills(info, tmp_path / "stills")
    assert (poster.role, poster.width, poster.height) == ("poster", 320, 240)
    assert (strip.role, strip.width, strip.height) == ("strip", 1600, 120) and strip.tech["seek"] == "fast"
