"""The search page against the real search service (Whoosh in the test data dir)."""
from __future__ import annotations

import re

import pytest

from repository.models import UsageEvent


def html_of(r) -> str:
    return r.get_data(as_text=True)


def test_simplified_query_finds_traditional_item_with_hit_boxes(client, indexed):
    r = client.get("/search?q=广州&lang=zh_Hans")
    assert r.status_code == 200
    html = html_of(r)
    assert f'data-item-id="{indexed.published}"' in html
    assert "<mark>廣州</mark>" in html  # snippet from the traditional OCR text, marked
    # a page thumbnail with the hit box drawn over it, scaled from the page size (800 x 400)
    assert re.search(r'<img src="/iiif/3/[0-9a-f]+/full/200,/0/default.jpg" width="200"', html)
    box = re.search(r'class="hit-box" style="left:([\d.]+)%;top:([\d.]+)%;width:([\d.]+)%;height:([\d.]+)%"', html)
    assert box, "no hit box drawn"
    left, top, width, height = map(float, box.groups())
    assert (left, top, width, height) == pytest.approx((5.0, 15.0, 10.0, 10.0))  # 廣州 = chars 0-1 at x=40..120
    assert f'href="/items/{indexed.published}?page=1&amp;q=%E5%B9%BF%E5%B7%9E"' in html


def test_transcript_hit_links_to_time(client, indexed):
    html = html_of(client.get("/search?q=冇乜&lang=en"))
    assert f'data-item-id="{indexed.audio}"' in html
    assert f'href="/items/{indexed.audio}?t=61.0&amp;q=%E5%86%87%E4%B9%9C"' in html
    assert "at 1:01" in html


def test_facets_have_counts_and_filter(client, indexed):
    html = html_of(client.get("/search?q=西關 OR 廣州&lang=en"))
    assert 'id="facet-type"' in html
    m = re.search(r'href="([^"]*type=Sound[^"]*)"[^>]*>Sound</a>\s*<span class="count">1</span>', html)
    assert m, "type facet with count missing"
    only_sound = html_of(client.get(m.group(1).replace("&amp;", "&")))
    assert f'data-item-id="{indexed.audio}"' in only_sound and f'data-item-id="{indexed.published}"' not in only_sound


def test_unpublished_items_never_found(client, indexed):
    html = html_of(client.get("/search?q=手稿&lang=en"))
    assert f'data-item-id="{indexed.draft}"' not in html and "未公開手稿" not in html


def test_did_you_mean_other_script_when_nothing_found(client, indexed):
    html = html_of(client.get("/search?q=沒有這個詞&lang=en"))
    assert "0 results" in html
    assert 'class="did-you-mean"' in html and "没有这个词" in html


def test_malformed_query_is_400_with_message_beside_the_box(client, indexed):
    r = client.get('/search?q="unclosed&lang=en')
    assert r.status_code == 400
    html = html_of(r)
    assert 'id="q-error"' in html and 'aria-invalid="true"' in html
    assert client.get("/search?q=x&nosuchfacet=1").status_code == 400
    assert client.get("/search?q=x&sort=sideways").status_code == 400
    assert client.get("/search?q=x&page=abc").status_code == 400


def test_xss_in_metadata_is_escaped_in_results(client, indexed):
    html = html_of(client.get("/search?q=window&lang=en"))
    assert f'data-item-id="{indexed.xss}"' in html
    assert "<script>window.__xss" not in html and "<img src=x onerror" not in html
    assert "&lt;script&gt;<mark>window</mark>" in html  # the snippet is escaped, only <mark> is markup


def test_searches_are_counted_with_result_numbers(client, indexed, repo):
    client.get("/search?q=广州")
    client.get("/search?q=沒有這個詞")
    with repo.session() as s:
        rows = {e.query: e.results for e in s.query(UsageEvent).filter_by(kind="search")}
    assert rows["广州"] >= 1 and rows["沒有這個詞"] == 0


def test_search_within_a_collection(client, indexed):
    page = html_of(client.get(f"/collections/{indexed.collection}?lang=en"))
    assert f'name="collection" value="{indexed.collection}"' in page
    html = html_of(client.get(f"/search?q=廣州&collection={indexed.collection}&lang=en"))
    assert f'data-item-id="{indexed.published}"' in html
    assert "Canton newspapers" in html  # the collection facet shows the collection's name, not its slug
    none = html_of(client.get("/search?q=廣州&collection=elsewhere&lang=en"))
    assert "0 results" in none


def test_browse_by_facet_without_a_query(client, indexed):
    html = html_of(client.get("/search?type=Sound&lang=en"))
    assert "1 result" in html and f'data-item-id="{indexed.audio}"' in html
    assert f'data-item-id="{indexed.draft}"' not in html


def test_result_shows_the_first_hit_pages_and_links_the_rest_in_the_item(client, indexed, repo):
    from repository.models import Item, Page
    from search.service import rebuild

    with repo.unit_of_work("test") as uow:
        item = uow.session.get(Item, indexed.published)
        last = max(p.n for p in item.pages)
        for k in range(1, 5):  # four more pages with the word: five matching pages in all
            item.pages.append(Page(n=last + k, width=800, height=400, text="廣州第%d頁" % k, words=[]))
    rebuild(repo)
    html = html_of(client.get("/search?q=廣州&lang=en"))
    block = html.split(f'data-item-id="{indexed.published}"', 1)[1].split('<li class="result"', 1)[0]
    assert block.count('class="hit-page"') == 3  # the first three hit pages
    assert (f'<a class="more-hits" href="/items/{indexed.published}?q=%E5%BB%A3%E5%B7%9E">'
            f'2 more pages in this item</a>') in block
