"""Home, collection browse, exhibitions, languages, access rules and bad input (Flask test client)."""
from __future__ import annotations

import re

import pytest

from repository.models import UsageEvent

HK = {"Accept-Language": "zh-HK"}


def body(r) -> str:
    return r.get_data(as_text=True)


def test_home_lists_collections_recent_items_exhibitions_and_institutions(client, site):
    r = client.get("/", headers=HK)
    assert r.status_code == 200
    html = body(r)
    assert 'action="/search"' in html
    assert f'href="/collections/{site.collection}"' in html and "廣州報刊" in html
    assert f'href="/exhibits/{site.exhibit}"' in html and "省港報業" in html
    assert site.hidden_exhibit not in html and "秘密展覽" not in html
    assert f'href="/items/{site.published}"' in html
    assert f'href="/items/{site.draft}"' not in html and "未公開手稿" not in html
    assert "嶺南圖書館" in html


def test_simplified_reader_sees_converted_metadata_tagged_zh_hans(client, site):
    r = client.get(f"/items/{site.published}?lang=zh_Hans")
    html = body(r)
    assert '<html lang="zh-Hans">' in html
    # the title exists only in traditional characters: shown converted with OpenCC, tagged simplified
    assert re.search(r'<h1 lang="zh-Hans">广州报纸选辑</h1>', html)
    assert re.search(r'<dd class="dc-creator" lang="zh-Hans"[^>]*>陈国华</dd>', html)
    # the OCR transcription is shown as written, tagged as what it is
    assert "廣州嘅報紙記載咗當年嘅舊事" in html


def test_traditional_reader_sees_simplified_only_item_converted(client, site):
    html = body(client.get(f"/items/{site.simplified}", headers=HK))
    assert re.search(r'<h1 lang="zh-Hant">嶺南風物[志誌]</h1>', html)
    html_en = body(client.get(f"/items/{site.simplified}?lang=en"))
    assert '<html lang="en">' in html_en
    assert re.search(r'<h1 lang="zh-Hans">岭南风物志</h1>', html_en)  # English readers get the original


def test_english_ui_is_translated_from_catalogs(client, site):
    en = body(client.get("/?lang=en"))
    hant = body(client.get("/?lang=zh_Hant"))
    hans = body(client.get("/?lang=zh_Hans"))
    assert "Collections" in en and "Canton newspapers" in en
    assert "館藏" in hant and '<html lang="zh-Hant">' in hant
    assert "馆藏" in hans and '<html lang="zh-Hans">' in hans


def test_rights_statement_controls_original_download(client, site, repo):
    from repository.models import File

    with repo.unit_of_work("test") as uow:
        for item_id in (site.published, site.simplified):
            blob = uow.store_bytes(b"%PDF-1.4 original bytes " + str(item_id).encode())
            uow.session.add(File(item_id=item_id, sha256=blob.sha256, role="original", mime="application/pdf",
                                 filename=f"orig-{item_id}.pdf", size=blob.size))
    open_html = body(client.get(f"/items/{site.published}", headers=HK))
    closed_html = body(client.get(f"/items/{site.simplified}", headers=HK))
    assert f"orig-{site.published}.pdf" in open_html and 'href="/media/' in open_html
    assert f"orig-{site.simplified}.pdf" not in closed_html
    assert "The original file is not offered for download" not in body(client.get(f"/items/{site.published}?lang=en"))
    assert "The original file is not offered for download" in body(client.get(f"/items/{site.simplified}?lang=en"))


def test_citation_and_stable_url(client, site):
    html = body(client.get(f"/items/{site.published}?lang=en"))
    m = re.search(r'<p class="citation">(.*?)</p>', html, re.S)
    assert m and "陳國華" in m.group(1) and "廣州報紙選輯" in m.group(1) and "1925" in m.group(1)
    assert f"http://localhost/items/{site.published}" in m.group(1)


def test_plain_text_download(client, site):
    r = client.get(f"/items/{site.audio}/text")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = body(r)
    assert "佢哋冇乜嘢食" in text and "[1:01–1:06] 李婆婆:" in text


def test_transcript_is_shown_once(client, site):
    """The AV player partial (when installed) shows the transcript; the page's own view steps aside."""
    html = body(client.get(f"/items/{site.audio}?q=冇乜", headers=HK))
    assert "佢哋冇乜嘢食" in html and "李婆婆" in html
    from web.public import _template_exists

    has_player = _template_exists(client.application.jinja_env, "item/_player_av.html")
    assert ('<section class="transcript"' in html) != has_player


def test_fallback_transcript_links_times_and_highlights_query(client, site):
    """Without the AV engineer's player partial the page still offers the transcript with times."""
    from flask import g, render_template

    from repository.access import Viewer
    from repository.models import Item
    from web import public

    with client.application.test_request_context(f"/items/{site.audio}?q=冇乜", headers=HK):
        g.viewer = Viewer.anonymous()
        item = public.db().get(Item, site.audio)
        html = render_template("item.html", item=item, q="冇乜", pages=[], segments=list(item.segments),
                               chapters=[], is_av=True, originals=[], extras=[], has_text=True, elements=[],
                               dc_labels=public.DC_LABELS, citation="", stable_url="", highlight=public.highlight,
                               partials={"player_av": False, "viewer_image": False}, thumb=None)
    assert f'href="/items/{site.audio}?t=61.0"' in html
    assert "<mark>冇乜</mark>" in html


def test_ocr_text_highlight_finds_simplified_query_in_traditional_text(client, site):
    html = body(client.get(f"/items/{site.published}?q=广州", headers=HK))
    assert "<mark>廣州</mark>嘅報紙" in html


def test_item_parameters_are_validated(client, site):
    for bad in ("t=abc", "t=-5", "page=0", "page=x"):
        r = client.get(f"/items/{site.published}?{bad}")
        assert r.status_code == 400, bad
        assert "Traceback" not in body(r)


def test_item_view_is_counted_without_personal_data(client, site, repo):
    client.get(f"/items/{site.published}", headers={"X-Forwarded-For": "203.0.113.9", **HK})
    with repo.session() as s:
        rows = s.query(UsageEvent).filter_by(kind="view", item_id=site.published).all()
    assert len(rows) == 1
    assert rows[0].query is None
    assert not any("203.0.113.9" in str(v) for v in vars(rows[0]).values())


def test_xss_in_metadata_is_escaped(client, site):
    html = body(client.get(f"/items/{site.xss}", headers=HK))
    assert "<script>window.__xss" not in html and "<img src=x onerror" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    home = body(client.get("/", headers=HK))
    assert "<script>window.__xss" not in home


def test_collection_browse_facets_sort_and_pagination(client, site):
    r = client.get(f"/collections/{site.collection}?lang=en")
    assert r.status_code == 200
    html = body(r)
    assert "4 items" in html  # published: text, simplified, audio, xss (not the draft)
    assert f'href="/items/{site.draft}"' not in html
    assert 'id="facet-type"' in html and 'id="facet-decade"' in html
    sound = body(client.get(f"/collections/{site.collection}?type=Sound&lang=en"))
    assert "1 item" in sound and f'href="/items/{site.audio}"' in sound and f'href="/items/{site.published}"' not in sound
    decade = body(client.get(f"/collections/{site.collection}?decade=1950&lang=en"))
    assert f'href="/items/{site.simplified}"' in decade and f'href="/items/{site.published}"' not in decade
    by_date = body(client.get(f"/collections/{site.collection}?sort=date&lang=en"))
    assert by_date.index(f'href="/items/{site.published}"') < by_date.index(f'href="/items/{site.simplified}"')
    # thumbnails: page 1 through IIIF, with alt text
    assert re.search(r'<img src="/iiif/3/[0-9a-f]+/full/200,/0/default.jpg" alt="[^"]+"', html)


@pytest.mark.parametrize("query", ["type=Bogus", "decade=1935", "decade=abc", "sort=sideways", "page=-1",
                                   "page=abc", "page=99999999999"])
def test_collection_bad_parameters_are_400(client, site, query):
    r = client.get(f"/collections/{site.collection}?{query}&lang=en")
    assert r.status_code == 400, query
    assert "Traceback" not in body(r)


def test_unknown_collection_and_exhibit_are_404(client, site):
    assert client.get("/collections/no-such").status_code == 404
    assert client.get("/exhibits/no-such").status_code == 404


def test_exhibit_renders_sanitised_markdown_and_visible_embeds_only(client, site):
    r = client.get(f"/exhibits/{site.exhibit}", headers=HK)
    assert r.status_code == 200
    html = body(r)
    assert "<strong>粵港</strong>" in html and "<h3>引言</h3>" in html  # Markdown "#" demoted below h2
    assert '<a href="https://example.org">說明</a>' in html
    assert "<script>" not in html.split("</header>", 1)[1] and "onerror" not in html
    assert "javascript:" not in html
    assert "報紙首頁" in html and f'href="/items/{site.published}?page=1"' in html
    assert "西關回憶" in html
    assert "不應出現的說明" not in html and f"/items/{site.draft}" not in html  # draft item never embedded
    assert "未公開" not in html  # nor the section that only existed to show it
    assert re.search(r'class="cover" src="/iiif/3/[0-9a-f]+/full/400,/0/default.jpg" alt="[^"]+"', html)


def test_exhibit_index_and_unpublished_exhibit_404(client, site):
    html = body(client.get("/exhibits", headers=HK))
    assert "省港報業" in html and "秘密展覽" not in html
    assert client.get(f"/exhibits/{site.hidden_exhibit}").status_code == 404


def test_exhibit_text_converted_for_simplified_readers(client, site):
    html = body(client.get(f"/exhibits/{site.exhibit}?lang=zh_Hans"))
    assert "<strong>粤港</strong>" in html and "报纸首页" in html


def test_language_switch_links_drop_a_lang_parameter(client, site):
    """?lang=en in the URL would beat the cookie, so the switcher's way back leaves it out."""
    html = body(client.get(f"/items/{site.published}?lang=en&q=廣州"))
    m = re.search(r'href="/lang/zh_Hans\?next=([^"]+)"', html)
    assert m
    from urllib.parse import unquote

    target = unquote(m.group(1))
    assert target.startswith(f"/items/{site.published}?") and "lang=" not in target and "q=" in target
    r = client.get(f"/lang/zh_Hans?next={m.group(1)}")
    assert r.status_code == 302
    again = body(client.get(r.headers["Location"]))
    assert '<html lang="zh-Hans">' in again


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<svg><script>alert(1)</script></svg>",
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
    "<<script>script>alert(1)<</script>/script>",
])
def test_exhibition_markdown_sanitiser_neutralises(source):
    from web.public import sanitise_markdown

    html = str(sanitise_markdown(source)).lower()
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html
    assert "onclick" not in html and "<iframe" not in html and "style=" not in html and "data:" not in html
