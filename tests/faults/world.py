"""A small repository with items in every state, for access-control and load tests.

The items are written straight through the repository's unit of work (real stored files with
fixity, real pages with word boxes, real segments), not through the OCR/AV pipelines: what is
tested here is who may see them, on every surface. Every hidden item carries a marker (an ASCII
word and a Chinese word) in its title, metadata, OCR text and transcript; a surface leaks when a
marker, an image id or the item id shows up for someone who may not see the item.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from repository import Repository, dublin_core
from repository.models import Collection, File, Item, Page, Segment

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
PUBLIC_WORD = "PUBLICHERITAGE"
SECRET_ZH = "機密檔案"  # in every hidden item; simplified: 机密档案


@dataclass
class Thing:
    """One item of the world and everything that identifies it on some surface."""

    key: str
    id: int
    marker: str
    institution: str
    state: str
    image_ids: list[str] = field(default_factory=list)
    file_ids: list[int] = field(default_factory=list)

    @property
    def public(self) -> bool:
        return self.key == "public" or self.key == "public_av"


@dataclass
class World:
    things: dict[str, Thing]

    def hidden_from(self, viewer: str) -> list[Thing]:
        """Items ``viewer`` (anonymous | mei of gz | wing of fs) must never see."""
        if viewer == "anonymous":
            return [t for t in self.things.values() if not t.public]
        own = {"mei": "gz", "wing": "fs"}[viewer]
        return [t for t in self.things.values() if not t.public and t.institution != own]

    @property
    def public(self) -> Thing:
        return self.things["public"]


def page_png(text: str) -> bytes:
    img = Image.new("L", (800, 400), 255)
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype(FONT, 44)
    except OSError:
        font = ImageFont.load_default()
    draw.text((30, 150), text, fill=0, font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


SPECS = [
    # key, institution, state, deleted, type
    ("public", "gz", "published", False, "Text"),
    ("public_av", "gz", "published", False, "Sound"),
    ("draft_gz", "gz", "draft", False, "Text"),
    ("failed_gz", "gz", "failed", False, "Text"),
    ("processing_gz", "gz", "processing", False, "Text"),
    ("trashed_gz", "gz", "published", True, "Text"),
    ("draft_av_gz", "gz", "draft", False, "Sound"),
    ("draft_fs", "fs", "draft", False, "Text"),
    ("draft_av_fs", "fs", "draft", False, "Sound"),
]


def build_world(repo: Repository, tmp: Path, wav: bytes) -> World:
    """Create the items (collections ``c`` of gz and ``other`` of fs must exist)."""
    from sqlalchemy import select

    tmp.mkdir(parents=True, exist_ok=True)
    things: dict[str, Thing] = {}
    for n, (key, inst, state, deleted, typ) in enumerate(SPECS):
        public = key.startswith("public")
        marker = PUBLIC_WORD if key == "public" else ("PUBLICAUDIO" if key == "public_av" else
                                                       f"HIDDEN{key.upper().replace('_', '')}")
        words = f"{marker} 廣州 {'' if public else SECRET_ZH}".strip()
        with repo.unit_of_work("test") as uow:
            s = uow.session
            coll = s.scalar(select(Collection).where(Collection.slug == ("c" if inst == "gz" else "other")))
            md = dublin_core.normalise({"title": words, "description": f"{words} 嘅 咗 冇", "subject": [marker]})
            item = Item(collection=coll, institution=coll.institution, title=words, metadata_=md, type=typ,
                        state=state, year_from=1925, year_to=1925)
            if public:
                item.published_at = datetime.now(timezone.utc)
            if deleted:
                item.deleted_at = datetime.now(timezone.utc)
            s.add(item)
            s.flush()
            thing = Thing(key, item.id, marker, inst, state)
            if typ == "Text":
                png = tmp / f"{key}.png"
                png.write_bytes(page_png(words))
                page = Page(item=item, n=1, width=800, height=400, text=words, ocr_status="done",
                            ocr_model="chi_tra", words=[{"text": marker, "xywh": [30, 150, 400, 50], "conf": 95.0,
                                                         "line": 0}])
                s.add(page)
                s.flush()
                thing.image_ids.append(page.image_id)
                files = [uow.add_file(item, png, role="original", mime="image/png", filename=f"{key}.png"),
                         uow.add_file(item, png, role="page_image", mime="image/png", page_id=page.id,
                                      width=800, height=400)]
                txt = tmp / f"{key}.txt"
                txt.write_text(words, encoding="utf-8")
                files.append(uow.add_file(item, txt, role="text", mime="text/plain", page_id=page.id))
            else:
                wav_path = tmp / f"{key}.wav"
                wav_path.write_bytes(wav + marker.encode())  # unique bytes per item
                item.duration = 1.0
                s.add(Segment(item=item, start=0.0, end=1.0, text=words, speaker="受訪者"))
                vtt = tmp / f"{key}.vtt"
                vtt.write_text(f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{words}\n", encoding="utf-8")
                files = [uow.add_file(item, wav_path, role="original", mime="audio/wav", filename=f"{key}.wav",
                                      duration=1.0),
                         uow.add_file(item, wav_path, role="access", mime="audio/wav", duration=1.0),
                         uow.add_file(item, vtt, role="webvtt", mime="text/vtt")]
            s.flush()
            thing.file_ids = [f.id for f in files]
            uow.reindex(item)
            things[key] = thing
    return World(things)


def index_world(repo: Repository) -> int:
    """Push the outbox to the configured search backend; returns how many tasks remain."""
    from search import drain_outbox

    return drain_outbox(repo)
