"""ONE suite, run against both backends (the ``corpus`` fixture is parametrised: whoosh, elasticsearch).

Every query feature, traditional ⇄ simplified both ways, Cantonese characters, CJK Extension B,
Jyutping, hits with boxes and times, unpublished filtering, facets, sorting, paging, malformed queries.
"""
from __future__ import annotations

import pytest

from config import InvalidInput
from search.service import search
from tests.conformance.corpus import ADMIN, ANON, staff_of


CHINESE = [
    # traditional query finds simplified text and the other way round
    ("廣州", {"chamber", "labour", "fair"}),
    ("广州", {"chamber", "labour", "fair"}),
    ("工人運動", {"labour"}),
    ("商会", {"chamber"}),
    ("總商會", {"chamber"}),
    ('"廣州 商會"', {"chamber"}),
    ("埗", {"oral"}),  # one character
    # Cantonese characters and CJK Extension B
    ("冇錢", {"oral"}),
    ("哋", {"oral"}),
    ("冚唪唥", {"oral"}),
    ("嘅", set()),  # only in unpublished or trashed items
    ("𠮶", {"extb", "oral"}),  # OpenCC folds the variant 嗰 (in "oral") to 𠮶 as well
    ("𠮶間", {"extb"}),
    ("州商", {"chamber"}),
    ("運動會", {"labour"}),  # OCR text "工 人 運\n動 會": spaces and line breaks don't split words  # bigrams overlap: any two neighbours match
    ("廣商", set()),  # not neighbours
    # English, case and full width
    ("canton", {"fair"}),
    ("CANTON fair", {"fair"}),
    ("ＣＡＮＴＯＮ", {"fair"}),
    ('"trade fair"', {"fair"}),
    ('"fair trade"', set()),
    ("opened 1957", {"fair"}),
    # Jyutping
    ("gwong zau", {"chamber", "labour", "fair"}),
    ("gwong2 zau1", {"chamber", "labour", "fair"}),
    ("gwong2zau1", {"chamber", "labour", "fair"}),
    ("sam seoi bou", {"oral"}),
    ('"gwong zau"', {"chamber", "labour", "fair"}),
    ("gwong gwong", {"extb"}),  # 月光光: adjacent syllables
    ("gwong", {"chamber", "labour", "fair", "extb"}),
]

OPERATORS = [
    ("廣州 商會", {"chamber"}),  # space = AND
    ("廣州 AND 商會", {"chamber"}),
    ("商會 OR 工人", {"chamber", "labour"}),
    ("廣州 NOT 商會", {"labour", "fair"}),
    ("-商會 廣州", {"labour", "fair"}),
    ("NOT 廣州", {"oral", "extb"}),
    ("(商會 OR 工人) AND 1950-1959", {"labour"}),
    ("title:廣州", {"chamber", "labour"}),
    ("title:canton", {"fair"}),
    ("creator:lee", {"oral"}),
    ("creator:陳大文", {"chamber"}),
    ("subject:商業", {"chamber", "fair"}),
    ("place:深水埗", {"oral"}),
    ("place:广州", {"chamber", "labour", "fair"}),
    ("1920-1949", {"chamber"}),
    ("1950-1979", {"labour", "oral", "fair"}),
    ("1950-1979 廣州", {"labour", "fair"}),
    ("", {"chamber", "labour", "oral", "fair", "extb"}),
]


@pytest.mark.parametrize("q,expected", CHINESE + OPERATORS, ids=[q or "<empty>" for q, _ in CHINESE + OPERATORS])
def test_query_finds_exactly(corpus, q, expected):
    assert corpus.names(corpus.find(q)) == expected


VISIBILITY = [
    ("秘密", "anon", set()),
    ("秘密", "gz", {"draft"}),
    ("秘密", "hk", set()),
    ("秘密", "admin", {"draft"}),
    ("已刪除", "anon", set()),
    ("已刪除", "admin", {"trashed"}),
    ("未公開", "hk", {"hk_draft"}),
    ("未公開", "gz", set()),
    ("廣州", "hk", {"chamber", "labour", "fair", "hk_draft"}),
    ("1930-1940", "admin", {"chamber", "draft"}),
    ("1930-1940", "anon", {"chamber"}),
]


@pytest.mark.parametrize("q,who,expected", VISIBILITY, ids=[f"{q}-{w}" for q, w, _ in VISIBILITY])
def test_unpublished_items_only_for_those_who_may_see_them(corpus, q, who, expected):
    viewer = {"anon": ANON, "admin": ADMIN, "gz": staff_of(corpus.institutions["gz"]),
              "hk": staff_of(corpus.institutions["hk"])}[who]
    assert corpus.names(corpus.find(q, viewer)) == expected


def test_unpublished_filtering_happens_in_the_engine_so_totals_and_facets_agree(corpus):
    r = search(corpus.repo, "廣州", viewer=ANON)
    assert r["total"] == 3 == len(r["results"])
    assert sum(c for _, c in r["facets"]["type"]) == 3


def _hit(corpus, q, key):
    r = search(corpus.repo, q, viewer=ANON)
    return next(x for x in r["results"] if x["id"] == corpus.ids[key])


def test_ocr_hits_carry_page_and_word_box(corpus):
    hit = _hit(corpus, "廣州", "chamber")
    # 廣州 is the 3rd-4th character (x = 10 + 2*30) of page 1 and 2nd-3rd of line 2 of page 2
    assert {"page": 1, "xywh": [70, 20, 60, 30]} in hit["hits"]
    assert {"page": 2, "xywh": [40, 80, 60, 30]} in hit["hits"]
    assert all(set(h) == {"page", "xywh"} for h in hit["hits"])


def test_simplified_query_gets_boxes_on_traditional_page(corpus):
    hit = _hit(corpus, "广州市", "chamber")
    assert hit["hits"] == [{"page": 1, "xywh": [70, 20, 90, 30]}]


def test_jyutping_query_gets_boxes(corpus):
    assert {"page": 1, "xywh": [70, 20, 60, 30]} in _hit(corpus, "gwong zau", "chamber")["hits"]


def test_jyutping_words_are_a_phrase_of_adjacent_syllables(corpus):
    # "extb" has 光 (gwong1) and 酒 (zau2) — but never side by side — so only 廣州/广州 items match
    assert {"extb"} <= corpus.names(corpus.find("gwong")) and {"extb"} <= corpus.names(corpus.find("zau"))
    for q in ("gwong zau", "gwong2 zau1", "gwong2zau1", '"gwong zau"', "GWONG ZAU"):
        assert corpus.names(corpus.find(q)) == {"chamber", "labour", "fair"}, q
    hit = _hit(corpus, "gwong gwong", "extb")
    assert hit["hits"] == [{"page": 2, "xywh": [40, 20, 60, 30]}]  # 光光, not the lone 光 of page 3
    assert any("<mark>光光</mark>" in s for s in hit["snippets"])


def test_transcript_hits_carry_start_and_end_seconds(corpus):
    hit = _hit(corpus, "冇錢", "oral")
    assert hit["hits"] == [{"start": 4.5, "end": 9.25}]
    assert any("<mark>冇錢</mark>" in s for s in hit["snippets"])


@pytest.mark.parametrize("q, key, n, hits, total", [
    ("廣州", "chamber", 1, [{"page": 1, "xywh": [70, 20, 60, 30]}], 2),
    ("廣州", "chamber", 0, [], 2),
    ("廣州", "chamber", 2, [{"page": 1, "xywh": [70, 20, 60, 30]}, {"page": 2, "xywh": [40, 80, 60, 30]}], 2),
    ("哋", "oral", 1, [{"start": 0.0, "end": 4.5}], 2),
    ("哋", "oral", 3, [{"start": 0.0, "end": 4.5}, {"start": 4.5, "end": 9.25}], 2),
    ("gwong", "extb", 1, [{"page": 2, "xywh": [40, 20, 60, 30]}], 2),  # 光光 (page 3 has 陽光)
    ("1957", "fair", 3, [{"page": 1, "xywh": [900, 20, 120, 30]}], 1),
])
def test_hits_per_item_limits_the_hit_pages_and_hits_total_counts_them_all(corpus, q, key, n, hits, total):
    r = search(corpus.repo, q, viewer=ANON, hits_per_item=n)
    hit = next(x for x in r["results"] if x["id"] == corpus.ids[key])
    assert hit["hits"] == hits
    assert hit["hits_total"] == total


def test_hits_total_is_zero_without_words_to_locate(corpus):
    r = search(corpus.repo, "", viewer=ANON)
    assert r["results"] and all(x["hits"] == [] and x["hits_total"] == 0 for x in r["results"])


def test_snippets_mark_matches_and_escape_everything_else(corpus):
    hit = _hit(corpus, "canton", "fair")
    page_snippet = next(s for s in hit["snippets"] if "Fair opened" in s)
    assert "&lt;b&gt;<mark>Canton</mark>&lt;/b&gt;" in page_snippet
    assert "<b>" not in "".join(hit["snippets"])


def test_result_shape(corpus):
    r = search(corpus.repo, "廣州", viewer=ANON)
    assert {"total", "results", "facets"} <= set(r)
    for x in r["results"]:
        assert {"id", "title", "score", "snippets", "hits", "hits_total"} <= set(x)
        assert isinstance(x["score"], float)
    for name in ("collection", "institution", "type", "language", "decade", "place", "subject"):
        assert all(isinstance(v, str) and isinstance(c, int) for v, c in r["facets"][name])


def test_facet_counts(corpus):
    f = search(corpus.repo, "", viewer=ANON)["facets"]
    assert dict(map(tuple, f["type"])) == {"Text": 3, "StillImage": 1, "Sound": 1}
    assert dict(map(tuple, f["collection"])) == {"news": 3, "oral": 2}
    assert dict(map(tuple, f["institution"])) == {"gz-lib": 3, "hk-lib": 2}
    assert dict(map(tuple, f["decade"])) == {"1920s": 1, "1930s": 1, "1950s": 2, "1970s": 1, "1980s": 1}
    assert dict(map(tuple, f["language"])) == {"zh-Hant": 1, "zh-Hans": 1, "yue": 2, "en": 1}
    assert dict(map(tuple, f["subject"]))["商業"] == 2
    assert dict(map(tuple, f["place"]))["廣州"] == 2
    assert f["type"][0] == ["Text", 3]  # largest first


@pytest.mark.parametrize("filters,expected", [
    ({"type": ["Text"]}, {"chamber", "labour", "extb"}),
    ({"type": ["Text", "Sound"]}, {"chamber", "labour", "extb", "oral"}),
    ({"collection": ["oral"], "decade": ["1970s"]}, {"oral"}),
    ({"institution": ["gz-lib"]}, {"chamber", "labour", "fair"}),
    ({"subject": ["商業"]}, {"chamber", "fair"}),
    ({"place": ["深水埗"]}, {"oral"}),
    ({"language": ["yue"]}, {"oral", "extb"}),
    ({"decade": ["1930s"]}, {"chamber"}),
])
def test_facet_filters(corpus, filters, expected):
    assert corpus.names(corpus.find("", filters=filters)) == expected


def test_facet_filter_with_query_and_counts_follow_filters(corpus):
    r = search(corpus.repo, "廣州", filters={"type": ["StillImage"]}, viewer=ANON)
    assert corpus.names({x["id"] for x in r["results"]}) == {"fair"}
    assert dict(map(tuple, r["facets"]["type"])) == {"StillImage": 1}


def test_sort_by_date_and_title(corpus):
    by_date = [x["id"] for x in search(corpus.repo, "", sort="date", viewer=ANON)["results"]]
    assert [corpus.names({i}).pop() for i in by_date] == ["chamber", "labour", "fair", "oral", "extb"]
    by_title = [x["id"] for x in search(corpus.repo, "", sort="title", viewer=ANON)["results"]]
    assert [corpus.names({i}).pop() for i in by_title] == ["fair", "chamber", "labour", "oral", "extb"]


def test_relevance_puts_the_denser_match_first(corpus):
    r = search(corpus.repo, "商會", viewer=ANON)
    assert r["results"][0]["id"] == corpus.ids["chamber"]
    scores = [x["score"] for x in search(corpus.repo, "廣州", viewer=ANON)["results"]]
    assert scores == sorted(scores, reverse=True)


def test_pagination_covers_everything_once(corpus):
    seen: list[int] = []
    for page in (1, 2, 3):
        r = search(corpus.repo, "", sort="date", page=page, per_page=2, viewer=ANON)
        assert r["total"] == 5
        seen += [x["id"] for x in r["results"]]
    assert len(seen) == len(set(seen)) == 5
    assert search(corpus.repo, "", page=4, per_page=2, viewer=ANON)["results"] == []


MALFORMED = ['"廣州', "(廣州", "廣州)", "廣州 OR", "AND 廣州", "NOT", "foo:bar", "title:", "1950-1920",
             "，。！", "廣州 " * 60, "a\x00b"]


@pytest.mark.parametrize("q", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_queries_raise_invalid_input(corpus, q):
    with pytest.raises(InvalidInput) as exc:
        search(corpus.repo, q, viewer=ANON)
    assert str(exc.value)  # a message a person can act on


@pytest.mark.parametrize("kw", [dict(sort="newest"), dict(page=0), dict(per_page=1000), dict(page=100000),
                                dict(filters={"colour": ["red"]}), dict(hits_per_item=-1),
                                dict(hits_per_item=51), dict(hits_per_item="3"), dict(hits_per_item=2.5),
                                dict(hits_per_item=True)])
def test_bad_parameters_raise_invalid_input(corpus, kw):
    with pytest.raises(InvalidInput):
        search(corpus.repo, "廣州", viewer=ANON, **kw)


def test_odd_but_valid_queries_do_not_fail(corpus):
    for q in ["<script>alert(1)</script>", "title:\"\"", "' OR 1=1 --", "*", "廣州~2", "a:b:c",
              "\\", "{}", "[1 TO 2]", "😀", "广州" * 100]:
        try:
            search(corpus.repo, q, viewer=ANON)
        except InvalidInput:
            pass  # refusing with a message is fine; anything else is not
