"""Hostile upload material, generated at test time from real files.

Valid originals are made with the real tools (Pillow + Noto CJK, PyMuPDF, ffmpeg lavfi) and then
broken on purpose: truncated, given lying headers, giant declared dimensions, disguised under
fake extensions, glued into polyglots. :data:`FILE_CASES` lists every case once; the fault tests
push each through every upload entry point (CLI, admin upload, CSV batch).
"""
from __future__ import annotations

import io
import os
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


# ---- valid originals ---------------------------------------------------------------------------
def page_image(text: str = "廣州城坊志 嘅 咗 冇 啲", size: tuple[int, int] = (600, 300)) -> Image.Image:
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype(FONT, 40)
    except OSError:  # fonts-noto-cjk missing: still an image, just Latin
        font = ImageFont.load_default()
    draw.text((20, 100), text, fill=0, font=font)
    return img


def image_bytes(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img = page_image()
    if fmt == "JPEG2000":
        img = img.convert("RGB")
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def pdf_bytes(pages: int = 1, encrypt: bool = False) -> bytes:
    import fitz  # PyMuPDF

    doc = fitz.open()
    for i in range(pages):
        p = doc.new_page()
        p.insert_text((72, 72), f"Lingnan page {i + 1}", fontsize=20)
    kw = {}
    if encrypt:
        kw = dict(encryption=fitz.PDF_ENCRYPT_AES_256, owner_pw="owner-secret", user_pw="user-secret")
    data = doc.tobytes(**kw)
    doc.close()
    return data


def ffmpeg_bytes(tmp: Path, name: str, args: list[str]) -> bytes:
    out = tmp / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True, timeout=60)
    return out.read_bytes()


class Materials:
    """Valid originals (made once per test session) to break in different ways."""

    def __init__(self, tmp: Path):
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.jpeg = image_bytes("JPEG", quality=85)
        self.png = image_bytes("PNG")
        self.tiff = image_bytes("TIFF")
        self.webp = image_bytes("WEBP")
        try:
            self.jp2 = image_bytes("JPEG2000")
        except (OSError, KeyError):
            self.jp2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 500
        self.pdf = pdf_bytes(2)
        self.pdf_encrypted = pdf_bytes(1, encrypt=True)
        self.mp4 = ffmpeg_bytes(tmp, "v.mp4", ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
                                               "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                                               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                                               "-shortest"])  # moov at the end, as cameras write it
        self.wav = ffmpeg_bytes(tmp, "a.wav", ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        self.mp3 = ffmpeg_bytes(tmp, "a.mp3", ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])


# ---- crafted headers ---------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declared(width: int, height: int, idat: bytes = b"", bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (the pixel data may be tiny)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat or zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


def png_bomb(side: int = 25_000) -> bytes:
    """A real, complete decompression bomb: side x side 1-bit PNG, tiny compressed, huge decoded."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    chunks = []
    block = row * 1000
    for _ in range(side // 1000):
        chunks.append(comp.compress(block))
    chunks.append(comp.compress(row * (side % 1000)))
    chunks.append(comp.flush())
    return png_declared(side, side, b"".join(chunks), bit_depth=1, colour=0)


def jpeg_declared(width: int, height: int) -> bytes:
    """A JPEG start (SOI, SOF0) claiming ``width`` x ``height``, then nothing useful."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + b"\xff\xd9"


def tiff_declared(width: int, height: int) -> bytes:
    """A little-endian TIFF whose IFD claims ``width`` x ``height`` with one 8-byte strip."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 8),
    ]
    ifd_offset = 16
    head = b"II*\x00" + struct.pack("<I", ifd_offset) + b"\x00" * 8
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\x00" * 4
    return head + ifd


def pdf_zero_pages() -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def cut(data: bytes, fraction: float) -> bytes:
    return data[: max(1, int(len(data) * fraction))]


# ---- the cases ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileCase:
    """One hostile file: its name and how to make its bytes from :class:`Materials`."""

    id: str
    filename: str
    make: Callable[[Materials], bytes]
    #: "scan": reaches the scan pipeline's checks; "media": the AV pipeline's; "sniff": refused
    #: by content sniffing before any pipeline
    stage: str


ELF = Path("/bin/true").read_bytes()[:8192] if Path("/bin/true").exists() else b"\x7fELF" + b"\x00" * 8000

FILE_CASES: list[FileCase] = [
    # nothing in it / not what it says it is
    FileCase("zero-bytes", "empty.jpg", lambda m: b"", "sniff"),
    FileCase("text-as-jpg", "notes.jpg", lambda m: "這不是圖片 this is not an image\n".encode() * 50, "sniff"),
    FileCase("html-as-png", "page.png", lambda m: b"<html><script>alert(document.cookie)</script></html>", "sniff"),
    FileCase("elf-as-tiff", "scan.tif", lambda m: ELF, "sniff"),
    FileCase("svg-script-as-png", "logo.png",
             lambda m: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
             "sniff"),
    FileCase("gif-as-jpg", "anim.jpg", lambda m: b"GIF89a" + b"\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 40, "sniff"),
    FileCase("zip-as-pdf", "book.pdf", lambda m: zip_bytes({"a.txt": b"hello"}), "sniff"),
    FileCase("random-as-mp4", "clip.mp4", lambda m: os.urandom(65536), "sniff"),
    FileCase("shell-script-as-wav", "song.wav", lambda m: b"#!/bin/sh\nrm -rf /\n" * 100, "sniff"),
    # truncated
    FileCase("truncated-jpeg", "cut.jpg", lambda m: cut(m.jpeg, 0.5), "scan"),
    FileCase("jpeg-header-only", "head.jpg", lambda m: m.jpeg[:300], "scan"),
    FileCase("truncated-png", "cut.png", lambda m: cut(m.png, 0.5), "scan"),
    FileCase("truncated-tiff", "cut.tif", lambda m: cut(m.tiff, 0.3), "scan"),
    FileCase("truncated-webp", "cut.webp", lambda m: cut(m.webp, 0.4), "scan"),
    FileCase("truncated-jp2", "cut.jp2", lambda m: cut(m.jp2, 0.3), "scan"),
    FileCase("truncated-pdf", "cut.pdf", lambda m: cut(m.pdf, 0.4), "scan"),
    FileCase("pdf-header-only", "head.pdf", lambda m: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "scan"),
    FileCase("pdf-zero-pages", "nopages.pdf", lambda m: pdf_zero_pages(), "scan"),
    FileCase("pdf-encrypted", "locked.pdf", lambda m: m.pdf_encrypted, "scan"),
    FileCase("truncated-mp4", "cut.mp4", lambda m: cut(m.mp4, 0.3), "media"),
    FileCase("mp4-ftyp-only", "ftyp.mp4", lambda m: m.mp4[:32], "media"),
    FileCase("wav-header-only", "silent.wav", lambda m: m.wav[:44], "media"),
    # giant images
    FileCase("png-decompression-bomb", "bomb.png", lambda m: png_bomb(25_000), "scan"),
    FileCase("png-huge-declared", "huge.png", lambda m: png_declared(100_000, 100_000), "scan"),
    FileCase("jpeg-huge-declared", "huge.jpg", lambda m: jpeg_declared(65_000, 65_000), "scan"),
    FileCase("tiff-huge-declared", "huge.tif", lambda m: tiff_declared(200_000, 200_000), "scan"),
    # polyglots
    FileCase("polyglot-jpeg-html", "poly.jpg",
             lambda m: m.jpeg[:20] + b"<html><body><script>alert(1)</script></body></html>" * 20, "scan"),
    FileCase("polyglot-pdf-html", "poly.pdf",
             lambda m: b"%PDF-1.4\n<html><script>alert(1)</script></html>\n" * 20, "scan"),
    FileCase("polyglot-png-zip", "poly.png", lambda m: m.png[:60] + zip_bytes({"evil.html": b"<script>1</script>"}),
             "scan"),
]
