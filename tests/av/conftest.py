"""Fixtures for the oral-history tests: recordings made on the spot by ffmpeg lavfi and espeak-ng."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ingest.av.speech import make_test_media, speak_cantonese

#: Cantonese sentences said by espeak-ng, in order (traditional characters, Cantonese particles)
SENTENCES = ["我細個喺廣州西關長大。", "佢哋成日去飲茶，食咗好多點心。", "嗰陣時冇電視，啲細路喺街度玩。"]
GAP = 0.8  # seconds of silence between sentences


class MediaFactory:
    """Makes (and caches, per test process) generated recordings."""

    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[tuple, Path] = {}
        self._speech: tuple[Path, list[float]] | None = None

    def make(self, kind: str, seconds: float = 2.0, *, name: str | None = None, speech: bool = False) -> Path:
        key = (kind, seconds, speech)
        if key not in self.cache:
            audio = self.speech()[0] if speech else None
            path = self.root / f"{kind}-{seconds}-{int(speech)}.{_ext(kind)}"
            self.cache[key] = make_test_media(kind, path, seconds, audio=audio)
        src = self.cache[key]
        if name is None:
            return src
        dest = self.root / "named" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
        return dest

    def speech(self) -> tuple[Path, list[float]]:
        """A WAV of SENTENCES separated by silence, and the start second of each sentence."""
        if self._speech is None:
            parts, starts, t = [], [], 0.0
            for i, text in enumerate(SENTENCES):
                wav = self.root / f"sentence{i}.wav"
                seconds = speak_cantonese(text, wav)
                starts.append(round(t, 3))
                t += seconds + GAP
                parts.append(wav)
            out = self.root / "speech.wav"
            inputs = []
            chain = ""
            for i, p in enumerate(parts):
                inputs += ["-i", str(p)]
                chain += f"[{i}:a]apad=pad_dur={GAP}[p{i}];"
            chain += "".join(f"[p{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[out]"
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", chain,
                            "-map", "[out]", str(out)], check=True, timeout=60)
            self._speech = (out, starts)
        return self._speech


def _ext(kind: str) -> str:
    return {"video-only": "mp4", "opus": "ogg"}.get(kind, kind)


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> MediaFactory:
    return MediaFactory(tmp_path_factory.mktemp("av-media"))


@pytest.fixture
def oral(repo) -> str:
    """A collection for recordings; returns its slug."""
    from repository import catalog

    with repo.unit_of_work("test") as uow:
        catalog.add_collection(uow.session, "oral", "口述歷史")
    return "oral"


@pytest.fixture
def ingest_one(repo, oral):
    """Ingest one recording and run its job here; returns the item id."""
    from ingest.intake import IngestOptions, ingest_paths, wait_for

    def run(path: Path, *, publish: bool = True, transcript: Path | None = None, title: str | None = None) -> int:
        created = ingest_paths(repo, [path], IngestOptions(collection=oral, publish=publish, transcript=transcript,
                                                           title=title))
        wait_for(repo, [job for _, job in created], poll=0.05)
        return created[0][0]

    return run


def stored_objects(repo) -> list[str]:
    return list(repo.store.iter_objects())


class Site:
    """A repository with a published video (Cantonese speech + transcript) and a draft recording."""

    def __init__(self, repo, app, video_id: int, draft_id: int, starts: list[float], duration: float):
        self.repo, self.app = repo, app
        self.video_id, self.draft_id = video_id, draft_id
        self.starts, self.duration = starts, duration

    def files(self, item_id: int) -> dict:
        from sqlalchemy import select

        from repository.models import File

        with self.repo.session() as s:
            return {f.role: f for f in s.scalars(select(File).where(File.item_id == item_id))}


@pytest.fixture(scope="session")
def av_site(media, tmp_path_factory):
    """Built once per test process (ingest is the slow part); tests must not change it."""
    from config import load_settings
    from ingest.av.transcripts import format_time
    from ingest.intake import IngestOptions, ingest_paths, wait_for
    from repository import Repository, catalog
    from web.app import create_app

    root = tmp_path_factory.mktemp("av-site")
    env = {k: v for k, v in __import__("os").environ.items()
           if k in ("HERITAGE_SEARCH", "HERITAGE_ELASTICSEARCH_URL")}
    settings = load_settings(env=env, data_dir=root / "data")
    repo = Repository.open(settings, create=True)
    with repo.unit_of_work("test") as uow:
        catalog.add_collection(uow.session, "oral", "口述歷史")
    wav, starts = media.speech()
    duration = round(starts[-1] + 3.0, 1)
    video = root / "interview.mp4"
    make_test_media("mp4", video, duration, audio=wav)
    cues = ["WEBVTT", ""]
    ends = starts[1:] + [duration]
    for i, (a, b) in enumerate(zip(starts, ends)):
        speaker = "<v 陳伯>" if i == 0 else ""
        cues += [f"{format_time(a)} --> {format_time(b)}", f"{speaker}{SENTENCES[i]}", ""]
    video.with_suffix(".vtt").write_text("\n".join(cues), encoding="utf-8")
    draft = make_test_media("wav", root / "draft.wav", 1.0)
    made = ingest_paths(repo, [video], IngestOptions(collection="oral", publish=True, title="西關童年"))
    made += ingest_paths(repo, [draft], IngestOptions(collection="oral", publish=False))
    jobs = wait_for(repo, [j for _, j in made], poll=0.05)
    assert all(j.state == "done" for j in jobs), [j.error for j in jobs]
    app = create_app(settings, repo)
    app.config.update(TESTING=True)
    yield Site(repo, app, made[0][0], made[1][0], starts, duration)
    repo.db.dispose()
