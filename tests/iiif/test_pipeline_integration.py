"""End to end: a page through the real scan pipeline (Tesseract), then IIIF serves and searches it."""
from __future__ import annotations

import io

from iiif_prezi3 import Manifest
from PIL import Image

from ingest.samples import render_text_page


def test_scanned_page_through_iiif(cli, client, tmp_path):
    img, boxes = render_text_page("廣州西關大屋，佢哋喺度住咗好耐。", script="trad", width=900, font_size=56)
    path = tmp_path / "page.png"
    img.save(path)
    assert cli("collection", "add", "scans", "--title", "掃描").code == 0
    r = cli("ingest", str(path), "--collection", "scans", "--publish", "--wait", "--lang", "chi_tra")
    assert r.code == 0, r
    item_id = int(r.out.split()[0])

    doc = client.get(f"/iiif/manifest/{item_id}").get_json()
    Manifest(**doc)  # validates against the iiif-prezi3 model
    canvas = doc["items"][0]
    assert (canvas["width"], canvas["height"]) == img.size
    assert {s["format"] for s in canvas["seeAlso"]} >= {"text/vnd.hocr+html"}
    assert canvas["rendering"][0]["format"] == "text/plain"
    service = canvas["items"][0]["items"][0]["body"]["service"][0]["id"].replace("http://localhost", "")
    info = client.get(f"{service}/info.json").get_json()
    assert (info["width"], info["height"]) == img.size
    tile = client.get(f"{service}/0,0,256,256/256,/0/default.jpg")
    assert tile.status_code == 200 and Image.open(io.BytesIO(tile.data)).size == (256, 256)

    # search within, simplified query against the OCR of traditional print
    hits = client.get(f"/iiif/search/{item_id}?q=西关").get_json()
    assert hits["hits"], hits
    on = hits["resources"][0]["on"]
    x, y, w, h = map(int, on.split("#xywh=")[1].split(","))
    # the box lies on the rendered characters 西關 (ground truth from the renderer); Tesseract's
    # own boxes can be a few dozen pixels off, so at least half of the truth must be covered
    truth = [b for b in boxes if b["text"] in "西關"][:2]
    tx = min(b["xywh"][0] for b in truth)
    tx2 = max(b["xywh"][0] + b["xywh"][2] for b in truth)
    ty = min(b["xywh"][1] for b in truth)
    ty2 = max(b["xywh"][1] + b["xywh"][3] for b in truth)
    overlap_x = min(x + w, tx2) - max(x, tx)
    overlap_y = min(y + h, ty2) - max(y, ty)
    assert overlap_x >= (tx2 - tx) / 2 and overlap_y >= (ty2 - ty) / 2, (on, truth)
