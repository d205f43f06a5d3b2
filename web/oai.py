"""OAI-PMH 2.0 data provider at ``/oai`` (metadata format ``oai_dc``).

Only published items are disseminated. Sets: ``collection:<slug>`` and ``institution:<slug>``
(children of the sets ``collection`` and ``institution``). Datestamps are ``Item.updated_at`` in
UTC with seconds granularity. Deleted records are kept persistently: a published item that was
deleted leaves a :class:`repository.models.Tombstone`; an item that was published and is now
unpublished or in the trash answers with a deleted header too.

Resumption tokens are stateless: a signed (itsdangerous, the app's secret key) cursor holding
the request arguments and the last identifier sent, so any server process can continue a list.
Lists are ordered by item id (keyset paging), which stays correct while records change.

The protocol XML is built with lxml; no OAI-PMH *server* library on PyPI is maintained and fits
Flask + SQLAlchemy, so the verbs are implemented here by hand, following the spec section by
section (https://www.openarchives.org/OAI/openarchivesprotocol.html).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from lxml import etree
from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session, selectinload

from repository.access import public_filter
from repository.models import Collection, Event, Institution, Item, Tombstone
from repository.preservation.dc_xml import OAI_DC_NS, OAI_DC_SCHEMA, oai_dc_element
from web.app import repo_of

bp = Blueprint("oai", __name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
ID_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
#: repositoryIdentifier of the oai-identifier scheme (a domain-like name)
REPOSITORY_IDENTIFIER = "lingnan.heritage"
ID_PREFIX = f"oai:{REPOSITORY_IDENTIFIER}:"
DEFAULT_PAGE_SIZE = 100
EARLIEST_FALLBACK = datetime(2000, 1, 1, tzinfo=timezone.utc)

#: verb -> (required arguments, optional arguments); resumptionToken is exclusive
VERBS: dict[str, tuple[set[str], set[str]]] = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
}
FORMATS = {"oai_dc": (OAI_DC_SCHEMA, OAI_DC_NS)}
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
#: characters XML 1.0 cannot carry (echoing them in <request> would break the response)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@bp.record_once
def _exempt_from_csrf(state) -> None:
    # harvesters POST application/x-www-form-urlencoded requests (spec §3.1.1.2) without a CSRF token
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


class OAIError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def fmt_date(dt: datetime) -> str:
    """UTC datestamp with seconds granularity."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: str, name: str, *, upper: bool) -> tuple[datetime, str]:
    """Parse a from/until argument; ``upper`` makes it the (exclusive) end of its granule."""
    if DAY.match(value):
        gran, fmt, step = "day", "%Y-%m-%d", timedelta(days=1)
    elif SECOND.match(value):
        gran, fmt, step = "second", "%Y-%m-%dT%H:%M:%SZ", timedelta(seconds=1)
    else:
        raise OAIError("badArgument", f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC), got {value!r}")
    try:
        dt = datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        raise OAIError("badArgument", f"{name} is not a valid date: {value!r}") from None
    if upper:
        try:
            return dt + step, gran
        except OverflowError:  # until=9999-12-31: the end of time
            return datetime.max.replace(tzinfo=timezone.utc), gran
    return dt, gran


@dataclass
class ListQuery:
    prefix: str
    from_: datetime | None = None
    until: datetime | None = None  # exclusive
    set_spec: str | None = None
    after: int = 0  # last item id already sent

    def token_state(self, after: int) -> dict[str, Any]:
        return {"p": self.prefix, "f": self.from_.isoformat() if self.from_ else None,
                "u": self.until.isoformat() if self.until else None, "s": self.set_spec, "a": after}

    @classmethod
    def from_token_state(cls, st: dict[str, Any]) -> "ListQuery":
        return cls(prefix=st["p"], from_=datetime.fromisoformat(st["f"]) if st.get("f") else None,
                   until=datetime.fromisoformat(st["u"]) if st.get("u") else None,
                   set_spec=st.get("s"), after=int(st["a"]))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="oai-pmh-resumption")


def page_size() -> int:
    return int(current_app.config.get("OAI_PAGE_SIZE", DEFAULT_PAGE_SIZE))


# ---- records -------------------------------------------------------------------------------


@dataclass
class Header:
    item_id: int
    datestamp: datetime
    sets: list[str]
    deleted: bool
    item: Item | None = None


def item_sets(item: Item) -> list[str]:
    sets = [f"collection:{item.collection.slug}"]
    if item.institution is not None:
        sets.append(f"institution:{item.institution.slug}")
    return sets


def _ever_published():
    """Items that were published once (so their absence must be reported as a deletion)."""
    return or_(Item.published_at.is_not(None),
               exists().where(Event.item_id == Item.id, Event.type == "publication"))


def _set_condition(set_spec: str | None):
    if not set_spec or set_spec in ("collection",):
        return None
    kind, _, slug = set_spec.partition(":")
    if kind == "collection":
        return Item.collection_id.in_(select(Collection.id).where(Collection.slug == slug))
    if kind == "institution":
        if not slug:
            return Item.institution_id.is_not(None)
        return Item.institution_id.in_(select(Institution.id).where(Institution.slug == slug))
    return None


def _item_query(q: ListQuery):
    cond = [or_(public_filter(), _ever_published())]
    if q.from_:
        cond.append(Item.updated_at >= q.from_)
    if q.until:
        cond.append(Item.updated_at < q.until)
    sc = _set_condition(q.set_spec)
    if sc is not None:
        cond.append(sc)
    return and_(*cond)


def _tombstone_query(q: ListQuery):
    cond = [not_(exists().where(Item.id == Tombstone.item_id))]
    if q.from_:
        cond.append(Tombstone.deleted_at >= q.from_)
    if q.until:
        cond.append(Tombstone.deleted_at < q.until)
    return and_(*cond)


def tombstone_sets(s: Session, t: Tombstone) -> list[str]:
    """The setSpecs of a deleted record. A bare collection slug (as the admin pages record it) is
    read as ``collection:<slug>``, and that collection's institution set is added."""
    out: list[str] = []
    for spec in t.sets or []:
        spec = str(spec)
        if ":" not in spec:
            coll = s.scalar(select(Collection).where(Collection.slug == spec).options(
                selectinload(Collection.institution)))
            spec = f"collection:{spec}"
            if coll is not None and coll.institution is not None:
                out.append(f"institution:{coll.institution.slug}")
        out.insert(0, spec) if spec.startswith("collection:") else out.append(spec)
    return list(dict.fromkeys(out))


def _in_set(sets: list[str], set_spec: str | None) -> bool:
    if not set_spec:
        return True
    return any(x == set_spec or x.startswith(set_spec + ":") for x in sets)


def _tombstone_headers(s: Session, q: ListQuery) -> list[Header]:
    headers = [Header(t.item_id, t.deleted_at, tombstone_sets(s, t), True)
               for t in s.scalars(select(Tombstone).where(_tombstone_query(q)).order_by(Tombstone.item_id))]
    return [h for h in headers if _in_set(h.sets, q.set_spec)]


def list_headers(s: Session, q: ListQuery, limit: int) -> tuple[list[Header], int, int, bool]:
    """Up to ``limit`` headers after ``q.after`` (by id); also total size, cursor and whether more follow."""
    item_cond = _item_query(q)
    items = list(s.scalars(select(Item).where(item_cond, Item.id > q.after).order_by(Item.id).limit(limit + 1)
                           .options(selectinload(Item.collection), selectinload(Item.institution))))
    # tombstones carry their sets as a JSON list: filter those in Python (they are few)
    all_tombs = _tombstone_headers(s, q)
    tombs = [h for h in all_tombs if h.item_id > q.after]
    merged = sorted([_header(i) for i in items] + tombs, key=lambda h: h.item_id)
    more = len(merged) > limit
    page = merged[:limit]
    total = (s.scalar(select(func.count()).select_from(Item).where(item_cond)) or 0) + len(all_tombs)
    cursor = (s.scalar(select(func.count()).select_from(Item).where(item_cond, Item.id <= q.after)) or 0) + \
        sum(1 for h in all_tombs if h.item_id <= q.after)
    return page, total, cursor, more


def _header(item: Item) -> Header:
    return Header(item.id, item.updated_at, item_sets(item), deleted=not item.is_public, item=item)


def find_header(s: Session, identifier: str) -> Header:
    if not identifier.startswith(ID_PREFIX) or not identifier[len(ID_PREFIX):].isdigit():
        raise OAIError("idDoesNotExist", f"no item with identifier {identifier!r}")
    item_id = int(identifier[len(ID_PREFIX):])
    if item_id > 2**62:
        raise OAIError("idDoesNotExist", f"no item with identifier {identifier!r}")
    item = s.get(Item, item_id)
    if item is not None:
        if item.is_public or s.scalar(select(_ever_published()).where(Item.id == item_id)):
            return _header(item)
    else:
        t = s.get(Tombstone, item_id)
        if t is not None:
            return Header(t.item_id, t.deleted_at, tombstone_sets(s, t), True)
    raise OAIError("idDoesNotExist", f"no item with identifier {identifier!r}")


# ---- XML -----------------------------------------------------------------------------------


def base_url() -> str:
    configured = current_app.config["HERITAGE"].base_url
    return (configured or request.url_root).rstrip("/")


def envelope(args: dict[str, str] | None) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{OAI_NS}}}OAI-PMH", nsmap={None: OAI_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_SCHEMA}")
    etree.SubElement(root, f"{{{OAI_NS}}}responseDate").text = fmt_date(datetime.now(timezone.utc))
    req = etree.SubElement(root, f"{{{OAI_NS}}}request")
    req.text = base_url() + "/oai"
    for k, v in (args or {}).items():
        req.set(k, v)
    return root, req


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{OAI_NS}}}{tag}", **attrs)
    if text is not None:
        el.text = text
    return el


def xml_response(root: etree._Element) -> Response:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Response(body, content_type="text/xml; charset=utf-8")


def header_element(parent: etree._Element, h: Header) -> etree._Element:
    el = sub(parent, "header", **({"status": "deleted"} if h.deleted else {}))
    sub(el, "identifier", f"{ID_PREFIX}{h.item_id}")
    sub(el, "datestamp", fmt_date(h.datestamp))
    for spec in h.sets:
        sub(el, "setSpec", spec)
    return el


def record_element(parent: etree._Element, h: Header) -> None:
    rec = sub(parent, "record")
    header_element(rec, h)
    if not h.deleted and h.item is not None:
        md = sub(rec, "metadata")
        md.append(oai_dc_element(h.item, item_url=f"{base_url()}/items/{h.item_id}"))


# ---- verbs ---------------------------------------------------------------------------------


def identify(s: Session, root: etree._Element) -> None:
    settings = current_app.config["HERITAGE"]
    earliest = [d for d in (s.scalar(select(func.min(Item.updated_at)).where(or_(public_filter(), _ever_published()))),
                            s.scalar(select(func.min(Tombstone.deleted_at)))) if d is not None]
    el = sub(root, "Identify")
    sub(el, "repositoryName", settings.institution_name)
    sub(el, "baseURL", base_url() + "/oai")
    sub(el, "protocolVersion", "2.0")
    sub(el, "adminEmail", current_app.config["HERITAGE"].admin_email)
    sub(el, "earliestDatestamp", fmt_date(min(earliest) if earliest else EARLIEST_FALLBACK))
    sub(el, "deletedRecord", "persistent")
    sub(el, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    desc = sub(el, "description")
    oid = etree.SubElement(desc, f"{{{ID_NS}}}oai-identifier", nsmap={None: ID_NS})
    oid.set(f"{{{XSI_NS}}}schemaLocation", f"{ID_NS} {ID_SCHEMA}")
    for tag, text in (("scheme", "oai"), ("repositoryIdentifier", REPOSITORY_IDENTIFIER),
                      ("delimiter", ":"), ("sampleIdentifier", f"{ID_PREFIX}1")):
        etree.SubElement(oid, f"{{{ID_NS}}}{tag}").text = text


def list_metadata_formats(s: Session, root: etree._Element, args: dict[str, str]) -> None:
    if "identifier" in args:
        find_header(s, args["identifier"])
    el = sub(root, "ListMetadataFormats")
    for prefix, (schema, ns) in FORMATS.items():
        f = sub(el, "metadataFormat")
        sub(f, "metadataPrefix", prefix)
        sub(f, "schema", schema)
        sub(f, "metadataNamespace", ns)


def all_sets(s: Session) -> list[tuple[str, str]]:
    sets = [("collection", "Collections"), ("institution", "Institutions")]
    sets += [(f"collection:{c.slug}", c.title) for c in s.scalars(select(Collection).order_by(Collection.slug))]
    sets += [(f"institution:{i.slug}", i.name) for i in s.scalars(select(Institution).order_by(Institution.slug))]
    return sets


def list_sets(s: Session, root: etree._Element, args: dict[str, str]) -> None:
    if "resumptionToken" in args:  # ListSets always answers in one response
        raise OAIError("badResumptionToken", "this repository does not issue resumption tokens for ListSets")
    el = sub(root, "ListSets")
    for spec, name in all_sets(s):
        st = sub(el, "set")
        sub(st, "setSpec", spec)
        sub(st, "setName", name)


def get_record(s: Session, root: etree._Element, args: dict[str, str]) -> None:
    check_prefix(args["metadataPrefix"])
    h = find_header(s, args["identifier"])
    record_element(sub(root, "GetRecord"), h)


def check_prefix(prefix: str) -> None:
    if prefix not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"metadataPrefix {prefix!r} is not supported; use oai_dc")


def list_query(s: Session, args: dict[str, str]) -> ListQuery:
    if "resumptionToken" in args:
        try:
            state = _serializer().loads(args["resumptionToken"])
            return ListQuery.from_token_state(state)
        except (BadSignature, KeyError, TypeError, ValueError):
            raise OAIError("badResumptionToken", "the resumptionToken is invalid or has expired") from None
    check_prefix(args["metadataPrefix"])
    q = ListQuery(prefix=args["metadataPrefix"])
    grans = set()
    if "from" in args:
        q.from_, g1 = parse_date(args["from"], "from", upper=False)
        grans.add(g1)
    if "until" in args:
        q.until, g2 = parse_date(args["until"], "until", upper=True)
        grans.add(g2)
    if len(grans) > 1:
        raise OAIError("badArgument", "from and until must have the same granularity")
    if q.from_ and q.until and q.from_ >= q.until:
        raise OAIError("badArgument", "from must not be later than until")
    if "set" in args:
        if args["set"] not in {spec for spec, _ in all_sets(s)}:
            raise OAIError("badArgument", f"no set {args['set']!r}; ListSets names them")
        q.set_spec = args["set"]
    return q


def list_records(s: Session, root: etree._Element, args: dict[str, str], verb: str) -> None:
    q = list_query(s, args)
    headers, total, cursor, more = list_headers(s, q, page_size())
    if not headers:
        if "resumptionToken" in args:
            raise OAIError("badResumptionToken", "the resumptionToken does not continue any list")
        raise OAIError("noRecordsMatch", "no records match the given from/until/set")
    el = sub(root, verb)
    for h in headers:
        if verb == "ListIdentifiers":
            header_element(el, h)
        else:
            record_element(el, h)
    if more or "resumptionToken" in args:
        token = _serializer().dumps(q.token_state(headers[-1].item_id)) if more else ""
        sub(el, "resumptionToken", token, completeListSize=str(total), cursor=str(cursor))


def parse_args() -> dict[str, str]:
    """The request's OAI arguments (GET query or POST form); repeated arguments are badArgument."""
    source = request.form if request.method == "POST" else request.args
    args: dict[str, str] = {}
    for key in source.keys():
        values = source.getlist(key)
        if len(values) > 1:
            raise OAIError("badArgument" if key != "verb" else "badVerb", f"the argument {key!r} is repeated")
        if NOT_XML.search(key) or NOT_XML.search(values[0]):
            raise OAIError("badArgument", "an argument contains characters that are not allowed in XML")
        args[key] = values[0]
    return args


def check_arguments(verb: str, args: dict[str, str]) -> None:
    required, optional = VERBS[verb]
    given = set(args) - {"verb"}
    illegal = given - required - optional
    if illegal:
        raise OAIError("badArgument", f"illegal argument(s) for {verb}: {', '.join(sorted(illegal))}")
    if "resumptionToken" in given:
        if given != {"resumptionToken"}:
            raise OAIError("badArgument", "resumptionToken is an exclusive argument")
        return
    missing = required - given
    if missing:
        raise OAIError("badArgument", f"{verb} needs the argument(s): {', '.join(sorted(missing))}")


@bp.route("/oai", methods=["GET", "POST"])
def oai():
    """Answer one OAI-PMH request."""
    raw_args: dict[str, str] | None = None
    try:
        raw_args = parse_args()
        verb = raw_args.get("verb")
        if verb not in VERBS:
            raise OAIError("badVerb", "missing verb" if verb is None else f"illegal verb {verb!r}")
        check_arguments(verb, raw_args)
        root, _ = envelope(raw_args)
        with repo_of().session() as s:
            if verb == "Identify":
                identify(s, root)
            elif verb == "ListMetadataFormats":
                list_metadata_formats(s, root, raw_args)
            elif verb == "ListSets":
                list_sets(s, root, raw_args)
            elif verb == "GetRecord":
                get_record(s, root, raw_args)
            else:
                list_records(s, root, raw_args, verb)
        return xml_response(root)
    except OAIError as exc:
        # badVerb/badArgument: the request element carries no attributes (spec §3.6)
        attrs = None if exc.code in ("badVerb", "badArgument") else raw_args
        root, _ = envelope(attrs)
        sub(root, "error", exc.message, code=exc.code)
        return xml_response(root)

