"""The staff "data wall": holdings by institution and type, OCR'd pages, hours of audio/video,
views and searches per day, top queries and queries that found nothing (UsageEvent rows)."""
from __future__ import annotations

from datetime import timedelta

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import String, cast, func, literal_column, select

from config import InvalidInput
from repository.models import Institution, Item, Page, UsageEvent, utcnow
from web.admin import bp
from web.admin.common import repo

MAX_DAYS = 366


def collect(s, days: int) -> dict:
    """All numbers of the data wall as plain data (also served as JSON)."""
    live = Item.deleted_at.is_(None)
    insts = {i.id: i.name for i in s.scalars(select(Institution))}
    by_inst_type: dict[str, dict[str, int]] = {}
    for inst_id, typ, n in s.execute(select(Item.institution_id, Item.type, func.count()).where(live)
                                     .group_by(Item.institution_id, Item.type)):
        by_inst_type.setdefault(insts.get(inst_id, _("(no institution)")), {})[typ] = n
    pages_ocr = dict(s.execute(select(Item.institution_id, func.count(Page.id)).join(Page, Page.item_id == Item.id)
                               .where(live, Page.ocr_status == "done").group_by(Item.institution_id)).all())
    hours = {}
    for inst_id, typ, secs in s.execute(select(Item.institution_id, Item.type, func.sum(Item.duration))
                                        .where(live, Item.type.in_(["Sound", "MovingImage"]))
                                        .group_by(Item.institution_id, Item.type)):
        hours.setdefault(insts.get(inst_id, _("(no institution)")), {})[typ] = round((secs or 0) / 3600, 2)
    states = dict(s.execute(select(Item.state, func.count()).where(live).group_by(Item.state)).all())
    since = utcnow() - timedelta(days=days)
    day = func.substr(cast(UsageEvent.at, String), literal_column("1"), literal_column("10"))  # YYYY-MM-DD on SQLite and PostgreSQL
    per_day: dict[str, dict[str, int]] = {}
    for kind, d, n in s.execute(select(UsageEvent.kind, day, func.count()).where(UsageEvent.at >= since)
                                .group_by(UsageEvent.kind, day).order_by(day)):
        per_day.setdefault(str(d), {"view": 0, "search": 0})[kind] = n
    searches = (UsageEvent.kind == "search") & (UsageEvent.at >= since) & UsageEvent.query.is_not(None)
    top = s.execute(select(UsageEvent.query, func.count().label("n")).where(searches)
                    .group_by(UsageEvent.query).order_by(func.count().desc(), UsageEvent.query).limit(20)).all()
    zero = s.execute(select(UsageEvent.query, func.count().label("n")).where(searches, UsageEvent.results == 0)
                     .group_by(UsageEvent.query).order_by(func.count().desc(), UsageEvent.query).limit(20)).all()
    top_items = s.execute(select(UsageEvent.item_id, Item.title, func.count().label("n"))
                          .join(Item, Item.id == UsageEvent.item_id)
                          .where(UsageEvent.kind == "view", UsageEvent.at >= since)
                          .group_by(UsageEvent.item_id, Item.title).order_by(func.count().desc()).limit(10)).all()
    return {
        "days": days,
        "items": {"total": sum(states.values()), "by_state": states, "by_institution_type": by_inst_type},
        "pages_ocr": {insts.get(k, _("(no institution)")): v for k, v in pages_ocr.items()},
        "hours": hours,
        "per_day": per_day,
        "top_queries": [[q, n] for q, n in top],
        "zero_result_queries": [[q, n] for q, n in zero],
        "top_items": [[i, t, n] for i, t, n in top_items],
    }


def _days() -> int:
    raw = request.args.get("days", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise InvalidInput(_("days must be a whole number from 1 to %(max)s", max=MAX_DAYS))
    return int(raw)


@bp.get("/stats")
def stats():
    days = _days()
    with repo().session() as s:
        data = collect(s, days)
    peak = max([max(v.values()) for v in data["per_day"].values()] or [1]) or 1
    return render_template("admin/stats.html", data=data, peak=peak)


@bp.get("/stats.json")
def stats_json():
    with repo().session() as s:
        return jsonify(collect(s, _days()))
