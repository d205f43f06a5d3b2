"""Very large items on both search backends: a newspaper volume of 1 000 OCR pages (each page a
nested part of the item's Elasticsearch document, a page document in Whoosh) is indexed whole,
and a word on one page deep inside it is found with its page and box. An item too big for the
search cluster keeps its index task with the reason and does not hold up the items queued after it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from repository.models import Collection, IndexTask, Institution, Item, Page
from search import drain_outbox
from search.service import search
from tests.conformance.conftest import BACKENDS
from tests.conformance.corpus import ANON, close_repo, line_words, open_repo

PAGES = 1000
#: filler for a page: ordinary newspaper characters, none of the words searched for below
FILLER = "本報訊昨日市內天氣晴朗各區市民紛紛出行商店生意興隆交通秩序良好警方呼籲注意安全" * 30  # 1 230 chars
RARE_PAGE = 987


def page_text(n: int) -> str:
    head = f"第{n}版"
    if n == RARE_PAGE:
        head += "荔枝灣"
    if n % 100 == 0:
        head += "廣州"
    return head + FILLER


def add_volume(uow, inst, coll, title: str, pages: int) -> int:
    item = Item(collection=coll, institution=inst, title=title, state="published", type="Text")
    uow.session.add(item)
    for n in range(1, pages + 1):
        text = page_text(n)
        # word boxes for the page's first line only (the head and some filler)
        item.pages.append(Page(n=n, width=3000, height=4000, text=text, words=line_words(text[:24])))
    uow.session.flush()
    uow.reindex(item.id)
    return item.id


@pytest.fixture(scope="module", params=BACKENDS)
def volume(request, tmp_path_factory):
    es = request.getfixturevalue("es_url") if request.param == "elasticsearch" else None
    repo = open_repo(tmp_path_factory.mktemp(f"large-{request.param}"), request.param, es)
    try:
        with repo.unit_of_work("test") as uow:
            inst = Institution(slug="gz-lib", name="廣州圖書館")
            coll = Collection(slug="news", title="報刊", institution=inst)
            uow.session.add_all([inst, coll])
            item_id = add_volume(uow, inst, coll, "越華報 1935 合訂本", PAGES)
        assert drain_outbox(repo) == 0  # indexed whole, nothing left waiting
        yield repo, item_id
    finally:
        close_repo(repo)


@pytest.mark.parametrize("q", ["荔枝灣", "荔枝湾"])
def test_a_word_on_one_page_deep_inside_the_volume_is_found_with_its_page_and_box(volume, q):
    repo, item_id = volume
    r = search(repo, q, viewer=ANON)
    assert [x["id"] for x in r["results"]] == [item_id]
    hit = r["results"][0]
    # 第 | 987 (a Latin word: 3 × 30 px + a gap of 10) | 版 | 荔枝灣
    assert hit["hits"] == [{"page": RARE_PAGE, "xywh": [10 + 30 + 100 + 30, 20, 90, 30]}]
    assert hit["hits_total"] == 1


def test_every_page_with_the_word_is_counted_and_listed_up_to_the_limit(volume):
    repo, item_id = volume
    r = search(repo, "广州", viewer=ANON, hits_per_item=50)
    hit = r["results"][0]
    assert hit["hits_total"] == PAGES // 100
    assert sorted(h["page"] for h in hit["hits"]) == list(range(100, PAGES + 1, 100))
    few = search(repo, "廣州", viewer=ANON, hits_per_item=3)["results"][0]
    assert len(few["hits"]) == 3 and few["hits_total"] == PAGES // 100


@pytest.mark.elasticsearch
def test_an_item_too_big_for_the_cluster_is_kept_with_the_reason_and_holds_up_nothing(es_url, tmp_path):
    """The test node has a 512 MB heap: Elasticsearch takes at most ~54 MB in one request, and the
    document of a 2 000-page volume is ~72 MB. Before, the outbox retried the whole batch for ever
    and nothing queued after the volume was ever indexed."""
    repo = open_repo(tmp_path / "too-big", "elasticsearch", es_url)
    try:
        with repo.unit_of_work("test") as uow:
            inst = Institution(slug="gz-lib", name="廣州圖書館")
            coll = Collection(slug="news", title="報刊", institution=inst)
            uow.session.add_all([inst, coll])
            huge = add_volume(uow, inst, coll, "越華報 全年", 2000)
            small = add_volume(uow, inst, coll, "越華報 號外", 3)
        assert drain_outbox(repo) == 1  # the volume's task stays
        with repo.session() as s:
            task = s.execute(select(IndexTask.item_id, IndexTask.attempts, IndexTask.last_error)).one()
        assert task.item_id == huge and task.attempts == 1
        assert "larger than Elasticsearch takes in one request" in task.last_error and "heap" in task.last_error
        r = search(repo, "號外", viewer=ANON)
        assert [x["id"] for x in r["results"]] == [small]  # the item queued after it is searchable
        assert drain_outbox(repo) == 1  # tried again on the next drain, still refused, nothing else stuck
    finally:
        close_repo(repo)
