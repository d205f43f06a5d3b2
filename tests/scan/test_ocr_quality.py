"""OCR quality on scan-like rendered pages: character error rate per page type, the automatic
model choice against every single model, and word boxes against the rendered characters.

Pages: HKCanCor sentences (real Cantonese, traditional; OpenCC-simplified for the simplified page)
rendered with Noto CJK at 40 px/character (≈ 300-dpi book type), then degraded like a scan
(paper tone, 0.4° rotation, blur σ 0.6, Gaussian noise σ 10) by ``ingest.samples.sample_page``.

Why the CERs are higher than on Mandarin print: every sentence is colloquial Cantonese, full of
characters (嘅 咗 嗰 啲 喺 冇 嚟 …) that Tesseract's chi_sim/chi_tra models barely know; most
errors are exactly those characters. The thresholds are the worst CER we measured for the right
model over 10 seeds of each page type (seeds 1–10, 40 pages; tesseract 5.3.0, Debian models),
plus a small margin — they catch a wrong model (≥ 0.3 on horizontal pages, ≥ 0.9 with the wrong
direction) or broken preprocessing, not noise:

=============  ==============  =====================  =========
page type      right model     measured CER (10 pp)   threshold
=============  ==============  =====================  =========
simplified     chi_sim         0.123 – 0.230          0.25
traditional    chi_tra         0.079 – 0.207          0.22
vertical       chi_tra_vert    0.189 – 0.333          0.35
vert. simpl.   chi_sim_vert    0.198 – 0.358          0.38
mixed + Eng.   chi_tra         0.037 – 0.069          0.09
=============  ==============  =====================  =========

(Vertical simplified, measured 2026-12-02 on seeds 1–10: the other script's vertical model
0.364–0.474; ``auto`` chose chi_sim_vert on all 10.)

For comparison on the same pages the wrong script costs ~2× (simplified page read by chi_tra
0.21–0.40) and the wrong direction ≥ 0.91.
"""
from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from ingest import ocr
from ingest.samples import cer, page_text, sample_page

THRESHOLDS = {"simp": 0.25, "trad": 0.22, "vert": 0.35, "vsimp": 0.38, "mixed": 0.09}
RIGHT_MODEL = {"simp": "chi_sim", "trad": "chi_tra", "vert": "chi_tra_vert", "vsimp": "chi_sim_vert",
               "mixed": "chi_tra"}
CANDIDATES = {"simp": ("chi_sim", "chi_tra"), "trad": ("chi_tra", "chi_sim"),
              "vert": ("chi_tra_vert", "chi_sim_vert"), "vsimp": ("chi_sim_vert", "chi_tra_vert"),
              "mixed": ("chi_tra", "chi_sim")}
SEED = 1


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Every page type rendered once and read once per candidate model and once by ``auto``
    (cached for the module: each tesseract run is the slow part)."""
    d = tmp_path_factory.mktemp("ocr-pages")
    out = {}
    for kind in THRESHOLDS:
        img, boxes = sample_page(kind, seed=SEED)
        path = d / f"{kind}.png"
        img.save(path)
        reads = {m: ocr.read_page(path, m) for m in CANDIDATES[kind]}
        auto = ocr.choose_and_read(path, img, "auto", None)
        out[kind] = {"img": img, "boxes": boxes, "truth": page_text(boxes), "reads": reads, "auto": auto}
    return out


@pytest.mark.parametrize("kind", list(THRESHOLDS))
def test_cer_of_the_right_model_is_within_the_measured_threshold(runs, kind):
    r = runs[kind]
    value = cer(r["truth"], r["reads"][RIGHT_MODEL[kind]].text)
    assert value <= THRESHOLDS[kind], f"{kind}: CER {value:.3f} > {THRESHOLDS[kind]}"


@pytest.mark.parametrize("kind", list(THRESHOLDS))
def test_auto_is_within_1_1_of_the_best_single_model(runs, kind):
    """``auto`` (direction from projection profiles, script from a glyph vote; see ingest.ocr)
    must reach a CER ≤ 1.1 × the best CER of the single models that could apply (both scripts in
    the page's direction; the other direction is ≥ 0.9 CER on every page, so it can never be best).
    Measured offline on seeds 1–10 × 4 page types (40 pages; both readings of each page cached,
    the auto decision replayed on them): auto picked the best model on all 40 pages (so the ratio
    was 1.0 on each) — starting from script_prior's guess, and also when forced to start with
    traditional or with simplified; 10 of the 40 small pages were read twice (too few
    script-specific characters for a clear vote). Here it is asserted on one page of each type."""
    r = runs[kind]
    best = min(cer(r["truth"], read.text) for read in r["reads"].values())
    got = cer(r["truth"], r["auto"].text)
    assert got <= 1.1 * best + 1e-9, f"{kind}: auto chose {r['auto'].model} ({got:.3f}) vs best {best:.3f}"
    assert r["auto"].model == RIGHT_MODEL[kind]


def test_direction_is_detected_from_the_layout(runs):
    for kind, r in runs.items():
        vertical, strength = ocr.detect_vertical(r["img"])
        assert vertical == (kind in ("vert", "vsimp")), kind
        assert strength > 0.1, f"{kind}: ambiguous layout signal {strength:.2f}"


def _matched(boxes, words):
    """Pairs (rendered char box, OCR word) for characters OCR read correctly, aligned in order."""
    ocr_chars = [w for w in words if len(w["text"]) == 1]
    sm = difflib.SequenceMatcher(None, [b["text"] for b in boxes], [w["text"] for w in ocr_chars], autojunk=False)
    return [(boxes[a + k], ocr_chars[b + k]) for a, b, size in sm.get_matching_blocks() for k in range(size)]


# not vertical simplified: there Tesseract's word boxes drift by a character cell once a column
# holds a misread or dropped character (11 of 52 boxes on their character on the seed-1 page; the
# text and the model choice are right) — a known gap, see docs/ocr.md
@pytest.mark.parametrize("kind", ["simp", "trad", "vert", "mixed"])
def test_word_boxes_land_on_the_rendered_characters(runs, kind):
    """One entry per Han character; its box centre lies inside the character's rendered box
    (± 4 px for the 0.4° rotation of the degraded page) for ≥ 80 % of the correctly read
    characters (measured 85–92 % on these pages; the misses are Tesseract's approximate LSTM
    symbol boxes inside multi-character words), and the box is about one character in size."""
    r = runs[kind]
    pairs = _matched(r["boxes"], r["auto"].words)
    assert len(pairs) >= 0.6 * len(r["boxes"]) * (0.5 if kind == "mixed" else 1)
    inside = 0
    for truth, word in pairs:
        tx, ty, tw, th = truth["xywh"]
        x, y, w, h = word["xywh"]
        cx, cy = x + w / 2, y + h / 2
        inside += tx - 4 <= cx <= tx + tw + 4 and ty - 4 <= cy <= ty + th + 4
        assert w <= 3 * max(tw, th) and h <= 3 * max(tw, th)
    assert inside / len(pairs) >= 0.80, f"{kind}: {inside}/{len(pairs)} boxes on their character"
    for w in r["auto"].words:
        assert set(w) >= {"text", "xywh", "conf", "line"}
        if any(ocr._is_han(c) for c in w["text"]):
            assert len(w["text"]) == 1  # Han text: one entry per character


def test_alto_and_hocr_carry_the_same_words(runs):
    import xml.etree.ElementTree as ET

    r = runs["trad"]
    words = r["auto"].words
    alto = ET.fromstring(ocr.to_alto(words, r["img"].width, r["img"].height, image_name="p.png"))
    ns = {"a": ocr.ALTO_NS}
    strings = alto.findall(".//a:String", ns)
    assert [s.get("CONTENT") for s in strings] == [w["text"] for w in words]
    first = strings[0]
    assert [int(first.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")] == words[0]["xywh"]
    assert alto.find(".//a:Page", ns).get("WIDTH") == str(r["img"].width)
    assert ocr.parse_hocr(r["auto"].hocr) == words


@pytest.mark.parametrize("kind", ["simp", "trad", "vert", "vsimp"])
def test_auto_starting_with_simplified_still_picks_the_right_model(runs, kind, tmp_path):
    """In a mostly simplified item the pages are read with chi_sim first (one run when the page
    is clearly simplified); a traditional page must still come out traditional. Vertical pages
    always start traditional. Measured on the 40 pages (seeds 1–10): right model on all."""
    r = runs[kind]
    path = tmp_path / f"{kind}.png"
    r["img"].save(path)
    got = ocr.choose_and_read(path, r["img"], "auto", None, prefer="simp")
    assert got.model == RIGHT_MODEL[kind], got.candidates


@pytest.mark.parametrize("kind", ["simp", "trad", "mixed"])
def test_script_prior_guesses_the_script_without_ocr(runs, kind):
    """An item's first horizontal page is read with the model :func:`ingest.ocr.script_prior`
    guesses from glyph templates of frequent characters (no Tesseract run). Measured right on all
    30 horizontal test pages (seeds 1–10) and the 12 bench pages; a wrong guess would only cost
    a second run, which the auto test above would not notice — so it is asserted here."""
    assert ocr.script_prior(runs[kind]["img"]) == ("simp" if kind == "simp" else "trad")


def test_glyph_vote_counts_only_cells_that_match_a_form(runs):
    """With the match floor the votes from the page's own model are (nearly) unanimous: measured
    on the 40 test pages, 0–2 wrong votes a page (before the floor a third of all votes were
    wrong, e.g. 102 vs 52 on a bench page)."""
    # (vertical simplified: too few boxes on their glyph to vote, 1 vs 1 on the seed-1 page — its
    # model is chosen by reading it with both scripts' models, see the auto tests)
    for kind, script in (("trad", "trad"), ("simp", "simp"), ("vert", "trad")):
        read = runs[kind]["reads"][RIGHT_MODEL[kind]]
        t, s = ocr.glyph_script_vote(runs[kind]["img"], read.words, script)
        mine, other = (t, s) if script == "trad" else (s, t)
        assert mine >= 4 and other <= 1, (kind, t, s)


@pytest.mark.parametrize("kind", ["simp", "trad"])
def test_a_settled_item_reads_once_but_still_catches_a_page_in_the_other_script(runs, kind, tmp_path):
    """In an item settled as traditional a traditional page costs one run; a simplified page
    (its vote is against traditional) is still read with chi_sim too and comes out simplified."""
    r = runs[kind]
    path = tmp_path / f"{kind}.png"
    r["img"].save(path)
    got = ocr.choose_and_read(path, r["img"], "auto", None, prefer="trad", settled=True)
    assert got.model == RIGHT_MODEL[kind], got.candidates
    assert got.candidates["runs"] == (1 if kind == "trad" else 2)
