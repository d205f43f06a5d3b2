"""The domain model (SQLAlchemy 2). Knows nothing of Flask, OCR or search engines.

Item metadata is Dublin Core with language-tagged values; see :mod:`repository.dublin_core`.
Stored bytes live in the object store (:mod:`repository.store`), addressed by SHA-256; a
:class:`Blob` row is the fixity record of those bytes and :class:`File` rows say what they are
to an item (original, page image, hOCR, access copy …).
"""
from __future__ import annotations

import enum
import secrets
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def new_image_id() -> str:
    return secrets.token_hex(12)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class ItemState(str, enum.Enum):
    PROCESSING = "processing"  # ingest job still running
    FAILED = "failed"  # ingest failed; never shown publicly; see Item.error
    DRAFT = "draft"
    PUBLISHED = "published"


class Role(str, enum.Enum):
    ADMIN = "admin"
    ARCHIVIST = "archivist"


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: DCMI Type vocabulary values used for Item.type
ITEM_TYPES = ("Text", "StillImage", "Sound", "MovingImage")


class Institution(Base):
    """A contributing library (the central library, a district or branch library …)."""

    __tablename__ = "institution"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    #: {"zh-Hant": …, "zh-Hans": …, "en": …}
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (CheckConstraint("length(slug) > 0", name="institution_slug_nonempty"),)


class Collection(Base):
    __tablename__ = "collection"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)  # language map of the title
    description: Mapped[str] = mapped_column(Text, default="")
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    #: per-collection OCR default ("auto" or e.g. "chi_tra_vert")
    ocr_languages: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    institution: Mapped[Institution | None] = relationship()
    items: Mapped[list["Item"]] = relationship(back_populates="collection")
    __table_args__ = (CheckConstraint("length(slug) > 0", name="collection_slug_nonempty"),)


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collection.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    #: display title (also metadata["title"]); kept as a column for sorting
    title: Mapped[str] = mapped_column(String(1000))
    type: Mapped[str] = mapped_column(String(20), default="Text")
    state: Mapped[str] = mapped_column(String(20), default=ItemState.PROCESSING.value)
    #: Dublin Core: {"creator": [{"value": "…", "lang": "zh-Hant"}], …}
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    year_from: Mapped[int | None] = mapped_column(Integer)
    year_to: Mapped[int | None] = mapped_column(Integer)
    #: OCR choice for this item ("auto", "chi_tra", "chi_tra_vert" …) and whether text is vertical
    ocr_languages: Mapped[str | None] = mapped_column(String(100))
    vertical: Mapped[bool | None] = mapped_column(Boolean)
    publish_when_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)  # why ingest failed / which page failed
    duration: Mapped[float | None] = mapped_column(Float)  # seconds, for audio / video
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()  # in the trash when set
    collection: Mapped[Collection] = relationship(back_populates="items")
    institution: Mapped[Institution | None] = relationship()
    pages: Mapped[list["Page"]] = relationship(
        back_populates="item", order_by="Page.n", cascade="all, delete-orphan"
    )
    segments: Mapped[list["Segment"]] = relationship(
        back_populates="item", order_by="Segment.start", cascade="all, delete-orphan"
    )
    files: Mapped[list["File"]] = relationship(back_populates="item", cascade="all, delete-orphan")
    __table_args__ = (
        CheckConstraint("state in ('processing','failed','draft','published')", name="item_state_valid"),
        CheckConstraint("type in ('Text','StillImage','Sound','MovingImage')", name="item_type_valid"),
        CheckConstraint("year_from is null or year_to is null or year_from <= year_to", name="item_year_range"),
        CheckConstraint("length(title) > 0", name="item_title_nonempty"),
        Index("ix_item_state", "state", "deleted_at"),
    )

    @property
    def is_public(self) -> bool:
        return self.state == ItemState.PUBLISHED.value and self.deleted_at is None


class Blob(Base):
    """The fixity record of one stored byte sequence (content-addressed by SHA-256)."""

    __tablename__ = "blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_checked_at: Mapped[datetime | None] = mapped_column()
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean)
    __table_args__ = (CheckConstraint("length(sha256) = 64", name="blob_sha256_length"),)


class File(Base):
    """A stored file as it matters to an item."""

    __tablename__ = "file"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    page_id: Mapped[int | None] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    #: original | page_image | thumbnail | hocr | alto | text | pdf | access (mp4/m4a) | poster |
    #: strip | waveform | transcript | webvtt
    role: Mapped[str] = mapped_column(String(30))
    mime: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(500), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    #: technical metadata: codecs, bit rates, ffprobe/pdf facts, "stream_copied": bool …
    tech: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    item: Mapped[Item] = relationship(back_populates="files")
    blob: Mapped[Blob] = relationship()
    #: ix_file_page_role: the IIIF image server finds a page's image by (page_id, role) on every
    #: tile request; without it that lookup scans the whole file table.
    __table_args__ = (Index("ix_file_item_role", "item_id", "role"), Index("ix_file_page_role", "page_id", "role"))


class Page(Base):
    """One page (scan, PDF page, photograph) of an item, with its OCR."""

    __tablename__ = "page"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(Integer)  # 1-based order within the item
    #: IIIF Image API identifier of this page's image
    image_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_image_id)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    #: [{"text": "廣", "xywh": [x, y, w, h], "conf": 93.1, "line": 0}, …] in page-image pixels
    words: Mapped[list[Any]] = mapped_column(default=list)
    #: pending | done | failed | skipped (text layer)
    ocr_status: Mapped[str] = mapped_column(String(20), default="pending")
    ocr_model: Mapped[str | None] = mapped_column(String(100))  # model actually used, e.g. chi_tra_vert
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    item: Mapped[Item] = relationship(back_populates="pages")
    __table_args__ = (
        UniqueConstraint("item_id", "n", name="page_item_n_unique"),
        CheckConstraint("n >= 1", name="page_n_positive"),
    )


class Segment(Base):
    """A time-coded piece of a recording's transcript or index (OHMS-style chapter)."""

    __tablename__ = "segment"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="transcript")  # transcript | chapter
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")
    speaker: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    synopsis: Mapped[str | None] = mapped_column(Text)
    item: Mapped[Item] = relationship(back_populates="segments")
    __table_args__ = (
        CheckConstraint("start >= 0", name="segment_start_nonnegative"),
        CheckConstraint('"end" >= start', name="segment_end_after_start"),  # "end" is reserved in PostgreSQL
        CheckConstraint("kind in ('transcript','chapter')", name="segment_kind_valid"),
    )


class Exhibit(Base):
    """An online exhibition (線上展覽): a curated narrative in ordered sections."""

    __tablename__ = "exhibit"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")  # Markdown, sanitised on display
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    cover_page_id: Mapped[int | None] = mapped_column(ForeignKey("page.id", ondelete="SET NULL"))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sections: Mapped[list["ExhibitSection"]] = relationship(
        back_populates="exhibit", order_by="ExhibitSection.n", cascade="all, delete-orphan"
    )


class ExhibitSection(Base):
    __tablename__ = "exhibit_section"
    id: Mapped[int] = mapped_column(primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibit.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="SET NULL"))
    page_n: Mapped[int | None] = mapped_column(Integer)  # a single page of the item, if chosen
    caption: Mapped[str] = mapped_column(Text, default="")
    exhibit: Mapped[Exhibit] = relationship(back_populates="sections")
    __table_args__ = (UniqueConstraint("exhibit_id", "n", name="exhibit_section_n_unique"),)


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    role: Mapped[str] = mapped_column(String(20))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    institution: Mapped[Institution | None] = relationship()
    __table_args__ = (CheckConstraint("role in ('admin','archivist')", name="user_role_valid"),)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


class Event(Base):
    """A PREMIS-style audit event: what happened, to what, by whom, when, with what outcome."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: PREMIS event types: ingestion, message digest calculation, creation (derivative),
    #: fixity check, metadata modification, publication, unpublication, deletion, restoration,
    #: replacement, transfer (bag export/import), reindexing
    type: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    agent: Mapped[str] = mapped_column(String(200))  # "user:alice", "heritage-worker", "cli"
    outcome: Mapped[str] = mapped_column(String(20), default="success")  # success | failure
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="SET NULL"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (Index("ix_event_item", "item_id", "at"),)


class Job(Base):
    """A background job in the DB-backed queue (see :mod:`repository.jobs`)."""

    __tablename__ = "job"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED.value)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: {"done": 3, "total": 10, "step": "ocr page 4", "errors": [{"page": 2, "error": "…"}]}
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (
        CheckConstraint("state in ('queued','running','done','failed','cancelled')", name="job_state_valid"),
        Index("ix_job_state", "state", "created_at"),
    )


class IndexTask(Base):
    """Search outbox: an item whose search documents must be (re)written or deleted.

    Written in the same transaction as the change, drained by ``search`` — so an unreachable
    search cluster loses nothing.
    """

    __tablename__ = "index_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer)  # no FK: deletions must still be indexed
    action: Mapped[str] = mapped_column(String(10), default="upsert")  # upsert | delete
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Tombstone(Base):
    """A published item that was deleted: OAI-PMH reports it as deleted, persistently."""

    __tablename__ = "tombstone"
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(default=utcnow)
    sets: Mapped[list[Any]] = mapped_column(default=list)  # OAI setSpecs it belonged to


class UsageEvent(Base):
    """A page view or a search, for the staff statistics page (no personal data kept)."""

    __tablename__ = "usage_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # view | search
    at: Mapped[datetime] = mapped_column(default=utcnow)
    item_id: Mapped[int | None] = mapped_column(Integer)
    query: Mapped[str | None] = mapped_column(String(500))
    results: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (Index("ix_usage_kind_at", "kind", "at"),)
