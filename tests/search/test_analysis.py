"""search.analysis: the per-character fold, tokens, Jyutping, matching and safe highlighting."""
from __future__ import annotations

import pytest

from search import analysis


@pytest.mark.parametrize("text", ["廣州市嘅歷史", "ＡＢＣ１２３：", "The Canton Fair", "𠮶間舖頭", "ﬁ㍿①", "冚唪唥 佢哋"])
def test_normalise_keeps_one_character_per_character(text):
    assert len(analysis.normalise(text)) == len(text)


def test_normalise_folds_width_case_and_script():
    assert analysis.normalise("廣州ＡＢＣ") == "广州abc"
    assert analysis.normalise("广州") == analysis.normalise("廣州")
    assert analysis.normalise("裡裏") == "里里"
    assert analysis.normalise("嘅咗冇啲佢喺冚") == "嘅咗冇啲佢喺冚"  # Cantonese characters stay


def test_tokens_bigrams_unigrams_and_words_with_offsets():
    text = "廣州市，Canton 1957年"
    big = analysis.tokens(text)
    assert [t.text for t in big] == ["广州", "州市", "canton", "1957", "年"]
    assert [(t.start, t.end) for t in big] == [(0, 2), (1, 3), (4, 10), (11, 15), (15, 16)]
    assert [t.text for t in analysis.tokens(text, "unigram")] == ["广", "州", "市", "canton", "1957", "年"]
    assert analysis.is_han("𠮶") and analysis.is_han("冚") and not analysis.is_han("A")


def test_jyutping_of_traditional_and_simplified():
    assert analysis.jyutping("廣州") == ["gwong", "zau"]
    assert analysis.jyutping("广州") == ["gwong", "zau"]
    assert analysis.jyutping_query("gwong2") == ["gwong"]
    assert analysis.jyutping_query("gwong2zau1") == ["gwong", "zau"]
    assert analysis.jyutping_query("1957") is None


def test_jyutping_terms_break_between_runs_of_han_characters():
    assert analysis.jyutping_terms("廣州") == ["gwong", "zau"]
    assert analysis.jyutping_terms("廣 州\n市") == ["gwong", "zau", "si"]  # spaces and line breaks don't break
    assert analysis.jyutping_terms("光, 酒") == ["gwong", analysis.JYUTPING_BREAK, "zau"]
    assert analysis.jyutping_terms("Bar 酒 Bar") == ["zau"]


def test_matcher_finds_a_jyutping_phrase_only_where_the_syllables_stand_together():
    from search.query import parse

    text = "光，酒。廣州"
    assert [text[s:e] for s, e in parse("gwong zau").matcher.find(text)] == ["廣州"]
    assert [text[s:e] for s, e in parse("gwong").matcher.find(text)] == ["光", "廣"]


def test_find_matches_points_into_the_original_text():
    text = "佢喺廣州市開會，去咗广州"
    spans = analysis.find_matches(text, "广州")
    assert [text[s:e] for s, e in spans] == ["廣州", "广州"]
    assert analysis.find_matches("廣，州", "廣州") == []  # characters must stand together
    assert [text[s:e] for s, e in analysis.find_matches(text, "gwong zau")] == ["廣州", "广州"]
    assert analysis.find_matches("The CANTON fair", 'title:canton NOT fair') == [(4, 10)]


def test_highlight_escapes_everything_but_mark():
    text = "<script>alert(1)</script> 廣州"
    out = analysis.highlight(text, analysis.find_matches(text, "廣州"))
    assert out == ["&lt;script&gt;alert(1)&lt;/script&gt; <mark>廣州</mark>"]


def test_other_script_both_ways():
    assert analysis.other_script("廣州") == "广州"
    assert analysis.other_script("广州") == "廣州"


def test_spaces_and_line_breaks_between_han_characters_do_not_split_words():
    assert analysis.terms("廣 州\n商會") == ["广州", "州商", "商会"]
    text = "錄\n廣\n州 商會"
    assert [text[s:e] for s, e in analysis.find_matches(text, "广州商会")] == ["廣\n州 商會"]
    assert analysis.terms("廣州，香港") == ["广州", "香港"]  # punctuation does
