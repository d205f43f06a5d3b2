"""End to end: a recording through the real AV pipeline (ffmpeg), then its IIIF manifest and search."""
from __future__ import annotations

from iiif_prezi3 import Manifest

from ingest.av.speech import make_test_media


def test_recording_manifest_and_search(cli, client, tmp_path):
    media = make_test_media("mp4", tmp_path / "interview.mp4", 4.0)
    vtt = tmp_path / "interview.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\n我哋以前喺西關住\n\n"
                   "00:02.000 --> 00:04.000\n後來搬咗去東山\n", encoding="utf-8")
    assert cli("collection", "add", "oral", "--title", "口述歷史").code == 0
    r = cli("ingest", str(media), "--collection", "oral", "--transcript", str(vtt), "--publish", "--wait")
    assert r.code == 0, r
    item_id = int(r.out.split()[0])

    doc = client.get(f"/iiif/manifest/{item_id}").get_json()
    Manifest(**doc)
    canvas = doc["items"][0]
    assert 3.5 < canvas["duration"] < 4.5
    body = canvas["items"][0]["items"][0]["body"]
    assert body["type"] == "Video" and body["format"].startswith("video/mp4")
    media_url = body["id"].replace("http://localhost", "")
    assert client.get(media_url, headers={"Range": "bytes=0-99"}).status_code in (200, 206)
    supp = canvas["annotations"][0]["items"]
    assert any(a["body"].get("format") == "text/vtt" for a in supp)
    assert any(a["target"].endswith("#t=0,2") for a in supp)

    hits = client.get(f"/iiif/search/{item_id}?q=东山").get_json()
    assert [res["on"].split("#")[1] for res in hits["resources"]] == ["t=2,4"]
