"""CSV batch ingest: a spreadsheet of rows (files + Dublin Core + options) and a folder or zip of files.

Two steps, always in this order:

1. :func:`plan` reads the CSV (UTF-8, or GB18030 / Big5(-HKSCS) detected with charset-normalizer),
   checks EVERY row — files present, inside the folder and of a supported kind; collection known
   and allowed; options valid; metadata valid; no spreadsheet formulas — and returns a
   :class:`BatchPlan` whose rows list all their problems. Nothing is stored.
2. :func:`run` ingests the plan: refused when any row is bad, unless ``only_good`` is chosen.

Columns (header names, case-insensitive): ``file`` or ``files`` (several separated by ``|``: one
multi-page item), any Dublin Core element (``title``, ``creator``, ``date``, …; ``creator@en``
tags the language; several values separated by ``|``), ``collection``, ``lang`` (OCR models,
e.g. ``chi_tra_vert`` or ``chi_tra+eng``), ``vertical`` and ``publish`` (yes/no), ``transcript``
(a file beside the recording).
"""
from __future__ import annotations

import csv
import io
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

from config import HeritageError, InvalidInput
from config.settings import OCR_LANGUAGE_CHOICES
from repository import Repository, catalog, dublin_core
from repository.dublin_core import ELEMENTS, LANGS

MAX_CSV_BYTES = 20 * 1024 * 1024
MAX_ROWS = 10_000
MAX_ZIP_MEMBERS = 20_000
FILE_COLUMNS = ("file", "files")
OPTION_COLUMNS = ("collection", "lang", "vertical", "publish", "transcript")
ENCODINGS = ["utf_8", "gb18030", "big5", "big5hkscs"]
TRUE = {"1", "yes", "y", "true", "t", "on", "是", "x", "✓"}
FALSE = {"", "0", "no", "n", "false", "f", "off", "否"}
#: cells a spreadsheet would run as a formula (CSV injection, OWASP)
FORMULA_START = ("=", "+", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff20")  # also full-width ＝ ＋ ＠
PLAIN_NEGATIVE = re.compile(r"^-\d+([.,]\d+)?$")


@dataclass
class RowReport:
    """One CSV row: what it would become and every problem found in it."""

    line: int
    files: list[str]
    title: str | None = None
    collection: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "files": self.files, "title": self.title, "collection": self.collection,
                "ok": self.ok, "problems": self.problems}


@dataclass
class BatchPlan:
    """The dry-run result: a report per row, plus what :func:`run` needs for the good rows."""

    encoding: str
    files_dir: Path
    agent: str = "cli"
    header_problems: list[str] = field(default_factory=list)
    rows: list[RowReport] = field(default_factory=list)
    _work: dict[int, tuple[list[Path], Any]] = field(default_factory=dict, repr=False)

    @property
    def good(self) -> list[RowReport]:
        return [r for r in self.rows if r.ok]

    @property
    def bad(self) -> list[RowReport]:
        return [r for r in self.rows if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.header_problems and not self.bad and bool(self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "ok": self.ok, "rows": len(self.rows), "good": len(self.good),
                "bad": len(self.bad), "header_problems": self.header_problems,
                "report": [r.as_dict() for r in self.rows]}


# ---- reading ----------------------------------------------------------------------------------
def decode_csv(data: bytes) -> tuple[str, str]:
    """The CSV's text and encoding: UTF-8 (with or without BOM), else GB18030 / Big5 as detected."""
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(f"the CSV is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB; split it", field="csv")
    if not data.strip():
        raise InvalidInput("the CSV file is empty", field="csv")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=ENCODINGS).best()
    if best is None:
        raise InvalidInput("cannot tell the CSV's character encoding; save it as UTF-8", field="csv")
    encoding = best.encoding
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        raise InvalidInput("cannot tell the CSV's character encoding; save it as UTF-8", field="csv") from None


def _split(cell: str) -> list[str]:
    return [p.strip() for p in cell.split("|") if p.strip()]


def formula_problem(cell: str) -> str | None:
    """A message when ``cell`` would run as a formula in a spreadsheet (refused, not stored)."""
    if not cell:
        return None
    if cell.startswith(FORMULA_START) or (cell.startswith("-") and not PLAIN_NEGATIVE.match(cell.strip())):
        if cell.strip() in ("-", "--"):
            return None
        return (f"the value {cell[:30]!r} starts with {cell[0]!r}, which spreadsheets run as a formula; "
                f"remove that character")
    return None


def _bool(value: str, column: str) -> tuple[bool | None, str | None]:
    v = value.strip().lower()
    if v in TRUE:
        return True, None
    if v in FALSE:
        return (None if v == "" else False), None
    return None, f"{column}: use yes or no, got {value[:20]!r}"


def _check_lang(value: str) -> str | None:
    langs = value.split("+")
    bad = [x for x in langs if x not in OCR_LANGUAGE_CHOICES]
    if bad or ("auto" in langs and len(langs) > 1):
        return (f"lang: use 'auto' or a '+'-joined list of {', '.join(OCR_LANGUAGE_CHOICES[1:])}; "
                f"got {value[:40]!r}")
    return None


def _column(name: str) -> tuple[str, str | None] | None:
    """(kind, lang) for a header: ("file", None), ("option:collection", None), ("dc:title", "en") …"""
    n = name.strip().lower().lstrip("\ufeff")
    if n in FILE_COLUMNS:
        return "file", None
    if n in OPTION_COLUMNS:
        return f"option:{n}", None
    element, _, lang = n.partition("@")
    if element in ELEMENTS:
        if lang:
            match = {x.lower(): x for x in LANGS}.get(lang)
            if match is None:
                return None
            return f"dc:{element}", match
        return f"dc:{element}", None
    return None


def resolve_file(files_dir: Path, name: str) -> Path:
    """A path named in the CSV, inside ``files_dir``; InvalidInput for absolute, '..' or missing."""
    raw = name.strip().replace("\\", "/")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or raw.startswith("~"):
        raise InvalidInput(f"{name}: absolute paths are not allowed; name the file relative to the folder")
    parts = PurePosixPath(raw).parts
    if ".." in parts:
        raise InvalidInput(f"{name}: '..' is not allowed in a file name")
    path = files_dir.joinpath(*parts)
    root = files_dir.resolve()
    try:
        real = path.resolve()
    except OSError:
        raise InvalidInput(f"{name}: cannot read this file") from None
    if real != root and root not in real.parents:
        raise InvalidInput(f"{name}: points outside the folder of files")
    if not path.exists():
        raise InvalidInput(f"{name}: no such file in the folder of files")
    return path


# ---- planning ---------------------------------------------------------------------------------
def plan(repo: Repository, csv_data: bytes, files_dir: Path, *, default_collection: str | None = None,
         allowed_collections: Iterable[str] | None = None, agent: str = "cli",
         institution: str | None = None) -> BatchPlan:
    """Check every row of the CSV against the files and the catalogue; store nothing.

    ``allowed_collections`` (slugs) restricts where rows may go (an archivist's own institution).
    Raises :class:`InvalidInput` only when the CSV as a whole is unreadable; row problems are
    reported in the plan.
    """
    from ingest import intake

    text, encoding = decode_csv(csv_data)
    files_dir = Path(files_dir)
    if not files_dir.is_dir():
        raise InvalidInput(f"{files_dir}: the folder of files does not exist", field="files")
    result = BatchPlan(encoding=encoding, files_dir=files_dir, agent=agent)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV has no header row", field="csv") from None
    except csv.Error as exc:
        raise InvalidInput(f"the CSV cannot be read: {exc}", field="csv") from None
    columns = []
    for i, name in enumerate(header, start=1):
        col = _column(name)
        if col is None:
            if name.strip():
                result.header_problems.append(
                    f"column {i} {name.strip()[:40]!r} is not known; use file(s), collection, lang, vertical, "
                    f"publish, transcript or a Dublin Core element ({', '.join(ELEMENTS)}), optionally @zh-Hant, "
                    f"@zh-Hans or @en")
        columns.append(col)
    kinds = [c[0] for c in columns if c]
    if "file" not in kinds:
        result.header_problems.append("the CSV needs a 'file' (or 'files') column naming each item's file(s)")
    if len([k for k in kinds if k == "file"]) > 1:
        result.header_problems.append("use only one 'file' / 'files' column; separate several files with |")

    with repo.session() as s:
        from repository.models import Collection
        from sqlalchemy import select

        known = set(s.scalars(select(Collection.slug)))
    allowed = set(allowed_collections) if allowed_collections is not None else None
    seen_files: dict[str, int] = {}
    try:
        for line_no, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(result.rows) >= MAX_ROWS:
                result.header_problems.append(f"more than {MAX_ROWS} rows; split the CSV")
                break
            row = RowReport(line=line_no, files=[])
            result.rows.append(row)
            if len(cells) > len(header):
                row.problems.append(f"{len(cells)} cells but the header has {len(header)} columns")
            raw_md: dict[str, list[dict]] = {}
            opts: dict[str, str] = {}
            file_cell = ""
            for col, cell in zip(columns, cells):
                if col is None:
                    continue
                cell = cell.strip("\n")
                problem = formula_problem(cell)
                if problem:
                    row.problems.append(f"{header[columns.index(col)].strip()}: {problem}")
                    continue
                cell = cell.strip()
                kind, lang = col
                if kind == "file":
                    file_cell = cell
                elif kind.startswith("option:"):
                    opts[kind[7:]] = cell
                else:
                    raw_md.setdefault(kind[3:], []).extend({"value": v, "lang": lang} for v in _split(cell))
            # files
            row.files = _split(file_cell)
            paths: list[Path] = []
            if not row.files:
                row.problems.append("no file named in the file column")
            for name in row.files:
                try:
                    p = resolve_file(files_dir, name)
                    for f in intake.expand(p):
                        intake.sniff(f)
                        paths.append(f)
                except InvalidInput as exc:
                    row.problems.append(str(exc).replace(str(files_dir) + "/", ""))
                    continue
                key = str(p.resolve())
                if key in seen_files:
                    row.problems.append(f"{name}: already used on line {seen_files[key]}")
                else:
                    seen_files[key] = row.line
            # options
            coll = opts.get("collection") or default_collection
            row.collection = coll
            if not coll:
                row.problems.append("collection: no collection given (add a collection column or a default)")
            elif coll not in known:
                row.problems.append(f"collection: no collection {coll[:64]!r}")
            elif allowed is not None and coll not in allowed:
                row.problems.append(f"collection: {coll!r} belongs to another institution")
            lang = opts.get("lang") or None
            if lang and (msg := _check_lang(lang)):
                row.problems.append(msg)
            vertical, msg = _bool(opts.get("vertical", ""), "vertical")
            if msg:
                row.problems.append(msg)
            publish, msg = _bool(opts.get("publish", ""), "publish")
            if msg:
                row.problems.append(msg)
            transcript = None
            if opts.get("transcript"):
                try:
                    transcript = resolve_file(files_dir, opts["transcript"])
                    if not transcript.is_file():
                        raise InvalidInput(f"{opts['transcript']}: is not a file")
                except InvalidInput as exc:
                    row.problems.append(f"transcript: {exc}")
            # metadata
            try:
                md = dublin_core.normalise(raw_md)
                title = dublin_core.first(md, "title") or (paths[0].stem if paths else None)
                if title:
                    title = catalog.check_text(title, "title", 1000)
                row.title = title
            except InvalidInput as exc:
                row.problems.append(str(exc))
                md, title = {}, None
            if row.ok and paths:
                options = intake.IngestOptions(
                    collection=coll, title=title, lang=lang, vertical=vertical, transcript=transcript,
                    publish=bool(publish), metadata=md, agent=agent, institution=institution,
                    settings=repo.settings)
                problem = _trial(repo, paths, options)
                if problem:
                    row.problems.append(problem.replace(str(files_dir) + "/", ""))
                else:
                    result._work[row.line] = (paths, options)
    except csv.Error as exc:
        result.header_problems.append(f"the CSV cannot be read after line {reader.line_num}: {exc}")
    if not result.rows and not result.header_problems:
        result.header_problems.append("the CSV has a header but no rows")
    return result


# ---- running ----------------------------------------------------------------------------------
@dataclass
class BatchResult:
    created: list[tuple[int, int, int]] = field(default_factory=list)  # (line, item id, job id)
    skipped: list[int] = field(default_factory=list)  # lines with problems, not ingested


def run(repo: Repository, batch: BatchPlan, *, only_good: bool = False,
        on_item: Callable[[int, int, int], None] | None = None) -> BatchResult:
    """Ingest the plan's rows (one item each) in ONE unit of work: all good rows or nothing.

    Refused when a row is bad, unless ``only_good``."""
    from ingest import intake

    if batch.header_problems:
        raise InvalidInput("the CSV's columns have problems: " + "; ".join(batch.header_problems))
    if not batch.rows:
        raise InvalidInput("the CSV has no rows")
    if batch.bad and not only_good:
        lines = ", ".join(str(r.line) for r in batch.bad[:20])
        raise InvalidInput(f"{len(batch.bad)} of {len(batch.rows)} rows have problems (lines {lines}); nothing was "
                           f"ingested. Fix them, or choose to ingest only the good rows")
    result = BatchResult(skipped=[r.line for r in batch.bad])
    with repo.unit_of_work(batch.agent) as uow:  # all rows or none
        for row in batch.good:
            paths, options = batch._work[row.line]
            try:
                item_id, job_id = _make_item(uow, paths, options)
            except HeritageError as exc:  # e.g. a file changed since the dry run
                raise InvalidInput(f"line {row.line}: {exc}; nothing was ingested") from None
            result.created.append((row.line, item_id, job_id))
    if on_item:
        for line, item_id, job_id in result.created:
            on_item(line, item_id, job_id)
    return result


class _TrialDone(Exception):
    """Raised to roll a trial ingest back (its stored bytes are removed by the unit of work)."""


def _trial(repo: Repository, paths: list[Path], options: Any) -> str | None:
    """Run the row through the real pipeline's validation (decode every image frame, open every
    PDF page, probe the recording, parse the transcript) in a unit of work that is always rolled
    back; returns the problem, or None."""
    try:
        with repo.unit_of_work(options.agent) as uow:
            _make_item(uow, paths, options)
            raise _TrialDone
    except _TrialDone:
        return None
    except HeritageError as exc:
        return str(exc)


def _make_item(uow: Any, files: list[Path], options: Any) -> tuple[int, int]:
    """One item from ``files`` inside the caller's unit of work. Mirrors
    :func:`ingest.intake.create_item`, which opens its own unit of work: a batch needs one shared
    transaction so that it is ingested entirely or not at all."""
    from repository.models import Item, ItemState

    from ingest import intake

    kinds = {intake.sniff(f) for f in files}
    if intake.MEDIA_KIND in kinds and len(files) > 1:
        raise InvalidInput("a recording is ingested as one file per item; give the files separately")
    kind = "pdf" if kinds == {"pdf"} else ("image" if kinds <= set(intake.SCAN_KINDS) else intake.MEDIA_KIND)
    title = catalog.check_text(options.title or files[0].stem, "title", 1000)
    metadata = dublin_core.normalise({"title": title, **options.metadata})
    coll = catalog.collection(uow.session, options.collection)
    inst = catalog.institution(uow.session, options.institution) if options.institution else coll.institution
    years = dublin_core.year_range(dublin_core.values(metadata, "date"))
    item = Item(collection=coll, institution=inst, title=title, metadata_=metadata,
                state=ItemState.PROCESSING.value, year_from=years[0], year_to=years[1], type="Text",
                ocr_languages=options.lang or coll.ocr_languages, vertical=options.vertical,
                publish_when_ready=options.publish)
    uow.session.add(item)
    uow.session.flush()
    job = intake._pipeline(kind)(uow, item, files, options)
    uow.event("ingestion", item=item, detail={"files": [f.name for f in files], "job": job.id, "batch": True})
    return item.id, job.id


# ---- zip files --------------------------------------------------------------------------------
def _member_name(info: zipfile.ZipInfo) -> str:
    """Zip names without the UTF-8 flag were written in the creator's code page (GBK/Big5 on
    Chinese Windows); zipfile decoded them as cp437, so recover the real name."""
    name = info.filename
    if info.flag_bits & 0x800:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for enc in ("utf-8", "gb18030", "big5hkscs"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return name


def extract_zip(zip_path: Path, dest: Path, *, max_bytes: int) -> Path:
    """Extract a zip of files safely into ``dest``.

    Refuses the whole archive (nothing extracted is kept) for absolute names, '..' components
    (zip slip), symbolic links, too many members or more than ``max_bytes`` uncompressed.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise InvalidInput("the archive is not a valid zip file", field="archive") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InvalidInput(f"the zip has more than {MAX_ZIP_MEMBERS} files", field="archive")
        total = 0
        plan_: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        for info in infos:
            name = _member_name(info).replace("\\", "/")
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
                raise InvalidInput(f"the zip contains an absolute path ({name[:80]}); refused", field="archive")
            parts = PurePosixPath(name).parts
            if ".." in parts:
                raise InvalidInput(f"the zip contains a path with '..' ({name[:80]}); refused", field="archive")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InvalidInput(f"the zip contains a symbolic link ({name[:80]}); refused", field="archive")
            if any(ord(c) < 32 for c in name):
                raise InvalidInput("the zip contains a file name with control characters; refused", field="archive")
            total += info.file_size
            if total > max_bytes:
                raise InvalidInput(f"the zip unpacks to more than {max_bytes // (1024 * 1024)} MB", field="archive")
            if info.is_dir() or not parts or parts[-1].startswith(".") or "__MACOSX" in parts:
                continue
            plan_.append((info, PurePosixPath(*parts)))
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for info, rel in plan_:
            target = dest.joinpath(*rel.parts)
            if root not in target.resolve().parents:
                raise InvalidInput("the zip tries to write outside its folder; refused", field="archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > info.file_size:  # lying header: a zip bomb
                            raise InvalidInput("the zip's sizes are wrong; refused", field="archive")
                        out.write(chunk)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
                raise InvalidInput(f"the zip member {rel} cannot be read ({exc})", field="archive") from None
    return dest
