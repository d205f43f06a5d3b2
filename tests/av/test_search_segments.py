"""Transcript segments are searchable through search.service, with the right start times."""
from __future__ import annotations

import pytest

from repository.access import Viewer


@pytest.fixture(scope="module")
def service():
    return pytest.importorskip("search.service")


@pytest.mark.parametrize("q, sentence", [("廣州西關", 0), ("广州西关", 0), ("點心", 1), ("点心", 1), ("冇電視", 2)])
def test_segments_found_with_start_times(service, av_site, q, sentence):
    res = service.search(av_site.repo, q, viewer=Viewer.anonymous())
    ours = [r for r in res["results"] if r["id"] == av_site.video_id]
    assert ours, res
    starts = [h["start"] for h in ours[0]["hits"] if "start" in h]
    assert starts == [pytest.approx(av_site.starts[sentence], abs=0.01)]


def test_draft_recordings_are_not_found_by_visitors(service, av_site):
    res = service.search(av_site.repo, "draft", viewer=Viewer.anonymous())
    assert all(r["id"] != av_site.draft_id for r in res["results"])


def test_chapters_are_searchable_by_title(service, repo, media, ingest_one):
    src = media.make("wav", 4.0, name="chapters.wav")
    src.with_suffix(".txt").write_text("00:00:00 | 童年 | 西關 | 細個嘅生活\n00:00:02 | 戰時 | 逃難 | 去咗澳門\n",
                                       encoding="utf-8")
    item_id = ingest_one(src)
    res = service.search(repo, "澳门", viewer=Viewer.anonymous())
    hits = [r for r in res["results"] if r["id"] == item_id]
    assert hits and [h["start"] for h in hits[0]["hits"] if "start" in h] == [2.0]
