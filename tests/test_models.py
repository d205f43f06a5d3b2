"""Model constraints and Dublin Core normalisation."""
import pytest
from sqlalchemy.exc import IntegrityError

from config import Conflict, InvalidInput, NotFound
from repository import catalog, dublin_core
from repository.access import Viewer, can_edit, can_view
from repository.models import Collection, Item, Page, Segment


def make_item(s, **kw):
    coll = s.query(Collection).first() or catalog.add_collection(s, "c", "C")
    item = Item(collection=coll, title=kw.pop("title", "標題"), **kw)
    s.add(item)
    s.flush()
    return item


@pytest.mark.parametrize("bad", [
    {"state": "archived"},
    {"type": "Hologram"},
    {"year_from": 1950, "year_to": 1920},
    {"title": ""},
])
def test_item_constraints(repo, bad):
    with repo.session() as s, pytest.raises(IntegrityError):
        make_item(s, **bad)


def test_page_numbers_are_unique_and_positive(repo):
    with repo.session() as s:
        item = make_item(s)
        s.add(Page(item=item, n=1))
        s.flush()
        s.add(Page(item=item, n=1))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
    with repo.session() as s:
        item = make_item(s)
        s.add(Page(item=item, n=0))
        with pytest.raises(IntegrityError):
            s.flush()


def test_segment_must_end_after_it_starts(repo):
    with repo.session() as s:
        item = make_item(s, type="Sound")
        s.add(Segment(item=item, start=10, end=5, text="x"))
        with pytest.raises(IntegrityError):
            s.flush()


def test_slugs_are_validated_and_unique(repo):
    with repo.session() as s:
        with pytest.raises(InvalidInput):
            catalog.add_collection(s, "Bad Slug", "x")
        catalog.add_collection(s, "ok", "x")
        with pytest.raises(Conflict):
            catalog.add_collection(s, "ok", "y")
        with pytest.raises(NotFound):
            catalog.add_collection(s, "other", "y", institution_slug="missing")


def test_dublin_core_values_carry_language_tags():
    md = dublin_core.normalise({"title": "廣州城坊志", "subject": ["粤剧", "Cantonese opera"],
                                "date": "民國十四年"})
    assert md["title"] == [{"value": "廣州城坊志", "lang": "zh-Hant"}]
    assert [v["lang"] for v in md["subject"]] == ["zh-Hans", "en"]
    assert dublin_core.year_range(dublin_core.values(md, "date")) == (1925, 1925)


@pytest.mark.parametrize("raw, field", [
    ({"colour": "red"}, "colour"),
    ({"title": "x" * 10_001}, "title"),
    ({"creator": "bad\x00value"}, "creator"),
    ({"title": {"value": "x", "lang": "fr"}}, "title"),
])
def test_bad_metadata_names_the_field(raw, field):
    with pytest.raises(InvalidInput) as info:
        dublin_core.normalise(raw)
    assert info.value.field == field


@pytest.mark.parametrize("dates, expected", [
    (["1920-1949"], (1920, 1949)),
    (["1930s"], (1930, 1939)),
    (["1925-03-01"], (1925, 1925)),
    (["民國14年"], (1925, 1925)),
    (["undated"], (None, None)),
])
def test_year_range(dates, expected):
    assert dublin_core.year_range(dates) == expected


def test_access_rules(repo):
    with repo.session() as s:
        a = catalog.add_institution(s, "a", "A")
        b = catalog.add_institution(s, "b", "B")
        item = make_item(s, state="draft", institution_id=a.id)
        anon = Viewer.anonymous()
        staff_a = Viewer(1, "archivist", a.id, "x")
        staff_b = Viewer(2, "archivist", b.id, "y")
        admin = Viewer(3, "admin", None, "z")
        assert not can_view(item, anon) and not can_view(item, staff_b)
        assert can_view(item, staff_a) and can_edit(item, staff_a) and can_edit(item, admin)
        assert not can_edit(item, staff_b)
        item.state = "published"
        assert can_view(item, anon) and not can_edit(item, staff_b)
