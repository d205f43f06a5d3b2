"""IIIF Image API 3.0 (compliance level 2): parse a request, then render it.

Parsing is written by hand because no maintained Python library parses *and* validates Image
API 3.0 requests the way the spec's status codes need (the reference implementation ``iiif`` is
a test server that speaks 2.1-era error semantics and decodes every image whole). Rendering uses
Pillow for ordinary images (JPEG ``draft()`` decodes at 1/2, 1/4, 1/8 scale when a request is
smaller than the source) and a pyramidal tiled TIFF read through libvips for big scans (see
:mod:`web.iiif.sources`), so a 20 000 × 20 000 newspaper page is never decoded whole.
"""
from __future__ import annotations

from flask_babel import gettext as _

import io
import math
import re
from dataclasses import dataclass
from typing import Callable

from PIL import Image, ImageOps

from config import HeritageError, InvalidInput

#: Output formats we encode (IIIF extension → (Pillow format, MIME type)).
FORMATS: dict[str, tuple[str, str]] = {
    "jpg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
    "webp": ("WEBP", "image/webp"),
    "tif": ("TIFF", "image/tiff"),
    "gif": ("GIF", "image/gif"),
}
#: Formats the Image API names that this server does not produce: 501, not 400.
UNSUPPORTED_FORMATS = ("jp2", "pdf")
QUALITIES = ("default", "color", "gray", "bitonal")

#: Output limits advertised in info.json (maxWidth/maxHeight/maxArea).
MAX_WIDTH = 10_000
MAX_HEIGHT = 10_000
MAX_AREA = 25_000_000

_NUM = r"\d+(?:\.\d+)?"
_REGION_PX = re.compile(r"^(\d+),(\d+),(\d+),(\d+)$")
_REGION_PCT = re.compile(rf"^pct:({_NUM}),({_NUM}),({_NUM}),({_NUM})$")
_SIZE_W = re.compile(r"^(\d+),$")
_SIZE_H = re.compile(r"^,(\d+)$")
_SIZE_WH = re.compile(r"^(!?)(\d+),(\d+)$")
_SIZE_PCT = re.compile(rf"^pct:({_NUM})$")
_ROTATION = re.compile(rf"^(!?)({_NUM})$")


class NotImplementedFeature(HeritageError):
    """A valid Image API request for a feature this server does not offer (HTTP 501)."""

    status = 501


@dataclass(frozen=True)
class ImageRequest:
    """A parsed, validated request resolved against one image's dimensions."""

    x: int
    y: int
    w: int
    h: int  # region in full-image pixels
    width: int
    height: int  # output size before rotation
    mirror: bool
    rotation: float
    quality: str
    format: str
    full_region: bool
    max_size: bool  # the size is the largest one allowed (canonical "max")

    @property
    def mime(self) -> str:
        return FORMATS[self.format][1]

    def canonical(self) -> str:
        """The canonical ``region/size/rotation/quality.format`` path (Image API 3.0 §4.7)."""
        region = "full" if self.full_region else f"{self.x},{self.y},{self.w},{self.h}"
        if self.max_size:
            size = "max"
        else:
            size = f"{self.width},{self.height}"
            if self.width > self.w or self.height > self.h:
                size = "^" + size
        rot = f"{self.rotation:g}"
        return f"{region}/{size}/{'!' if self.mirror else ''}{rot}/{self.quality}.{self.format}"


def max_output(w: int, h: int, *, upscale: bool = False) -> tuple[int, int]:
    """The largest output size for a ``w`` × ``h`` region within the advertised limits."""
    scale = min(MAX_WIDTH / w, MAX_HEIGHT / h, math.sqrt(MAX_AREA / (w * h)))
    if not upscale:
        scale = min(scale, 1.0)
    if scale >= 1.0 and not upscale:
        return w, h
    return max(1, int(w * scale)), max(1, int(h * scale))


def _parse_region(region: str, width: int, height: int) -> tuple[int, int, int, int, bool]:
    if region == "full":
        return 0, 0, width, height, True
    if region == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side, side == width == height
    m = _REGION_PX.match(region)
    if m:
        x, y, w, h = (int(v) for v in m.groups())
    else:
        m = _REGION_PCT.match(region)
        if not m:
            raise InvalidInput(_("region %(region)s is not full, square, x,y,w,h or pct:x,y,w,h", region=repr(region)))
        px, py, pw, ph = (float(v) for v in m.groups())
        if px > 100 or py > 100:
            raise InvalidInput(_("region %(region)s starts outside the image", region=repr(region)))
        x, y = round(px * width / 100), round(py * height / 100)
        w, h = round(pw * width / 100), round(ph * height / 100)
    if w <= 0 or h <= 0:
        raise InvalidInput(_("region %(region)s has no width or height", region=repr(region)))
    if x >= width or y >= height:
        raise InvalidInput(_("region %(region)s lies outside the %(width)sx%(height)s image", region=repr(region), width=width, height=height))
    w, h = min(w, width - x), min(h, height - y)
    return x, y, w, h, (x, y, w, h) == (0, 0, width, height)


def _parse_size(size: str, w: int, h: int) -> tuple[int, int, bool]:
    upscale = size.startswith("^")
    spec = size[1:] if upscale else size
    is_max = False
    if spec == "max":
        tw, th = max_output(w, h)
        is_max = True
    elif m := _SIZE_W.match(spec):
        tw = int(m.group(1))
        th = max(1, round(h * tw / w))
    elif m := _SIZE_H.match(spec):
        th = int(m.group(1))
        tw = max(1, round(w * th / h))
    elif m := _SIZE_PCT.match(spec):
        pct = float(m.group(1))
        if pct > 100 and not upscale:
            raise InvalidInput(_("size %(size)s: more than 100%% needs the ^ prefix", size=repr(size)))
        tw, th = max(1, round(w * pct / 100)), max(1, round(h * pct / 100))
        if pct == 0:
            raise InvalidInput(_("size %(size)s is zero", size=repr(size)))
    elif m := _SIZE_WH.match(spec):
        bang, bw, bh = m.group(1) == "!", int(m.group(2)), int(m.group(3))
        if bw == 0 or bh == 0:
            raise InvalidInput(_("size %(size)s is zero", size=repr(size)))
        if bang:
            # best fit; without ^ a fit that needs upscaling is refused (as iiif-validator expects)
            scale = min(bw / w, bh / h)
            tw, th = max(1, min(bw, round(w * scale))), max(1, min(bh, round(h * scale)))
        else:
            tw, th = bw, bh
    else:
        raise InvalidInput(_("size %(size)s is not max, w,, ,h, pct:n, w,h or !w,h (optionally with ^)", size=repr(size)))
    if tw <= 0 or th <= 0:
        raise InvalidInput(_("size %(size)s is zero", size=repr(size)))
    if not upscale and (tw > w or th > h):
        raise InvalidInput(_("size %(size)s is larger than the %(w)sx%(h)s region; use ^ to upscale", size=repr(size), w=w, h=h))
    if tw > MAX_WIDTH or th > MAX_HEIGHT or tw * th > MAX_AREA:
        raise InvalidInput(_("size %(size)s gives %(tw)sx%(th)s, over the limit of %(MAX_WIDTH)sx%(MAX_HEIGHT)s / %(MAX_AREA)s pixels", size=repr(size), tw=tw, th=th, MAX_WIDTH=MAX_WIDTH, MAX_HEIGHT=MAX_HEIGHT, MAX_AREA=MAX_AREA))
    if is_max:
        return tw, th, True
    return tw, th, (tw, th) == max_output(w, h)


def parse(region: str, size: str, rotation: str, quality_format: str, width: int, height: int) -> ImageRequest:
    """Validate one Image API 3.0 request against a ``width`` × ``height`` image.

    Raises :class:`InvalidInput` (400) for malformed or impossible requests and
    :class:`NotImplementedFeature` (501) for valid formats this server does not produce.
    """
    quality, dot, fmt = quality_format.rpartition(".")
    if not dot or not quality:
        raise InvalidInput(_("%(request)s must be quality.format, e.g. default.jpg", request=repr(quality_format)))
    if quality not in QUALITIES:
        raise InvalidInput(_("quality %(quality)s is not one of %(join_QUALITIES)s", quality=repr(quality), join_QUALITIES=', '.join(QUALITIES)))
    if fmt in UNSUPPORTED_FORMATS:
        raise NotImplementedFeature(_("format %(format)s is not offered; use %(join_FORMATS)s", format=repr(fmt), join_FORMATS=', '.join(FORMATS)))
    if fmt not in FORMATS:
        raise InvalidInput(_("format %(format)s is not one of %(join_FORMATS)s", format=repr(fmt), join_FORMATS=', '.join(FORMATS)))
    m = _ROTATION.match(rotation)
    if not m or float(m.group(2)) > 360:
        raise InvalidInput(_("rotation %(rotation)s must be a number from 0 to 360, optionally after !", rotation=repr(rotation)))
    mirror, degrees = m.group(1) == "!", float(m.group(2)) % 360
    x, y, w, h, full = _parse_region(region, width, height)
    tw, th, is_max = _parse_size(size, w, h)
    return ImageRequest(x, y, w, h, tw, th, mirror, degrees, quality, fmt, full, is_max)


#: Reads the region (x, y, w, h) of the source at a size of at least (tw, th) → an RGB/L image.
RegionReader = Callable[[tuple[int, int, int, int], tuple[int, int]], Image.Image]


def pillow_reader(path: str) -> RegionReader:
    """A :data:`RegionReader` over a file Pillow can open, decoding JPEGs at reduced scale."""

    def read(region: tuple[int, int, int, int], target: tuple[int, int]) -> Image.Image:
        x, y, w, h = region
        im = Image.open(path)
        full_w, full_h = im.size
        if im.format == "JPEG":
            # draft() picks the smallest DCT scale (1/1 … 1/8) still >= the requested size
            factor = min(w / target[0], h / target[1])
            if factor >= 2:
                im.draft("RGB" if im.mode not in ("L", "1") else "L",
                         (math.ceil(full_w / factor), math.ceil(full_h / factor)))
        sx, sy = im.size[0] / full_w, im.size[1] / full_h
        box = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
        if im.mode not in ("RGB", "L", "RGBA", "LA"):
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        return im.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)

    return read


def render(req: ImageRequest, read: RegionReader) -> bytes:
    """Produce the encoded bytes for ``req`` from a region reader."""
    im = read((req.x, req.y, req.w, req.h), (req.width, req.height))
    if im.size != (req.width, req.height):
        im = im.resize((req.width, req.height), Image.Resampling.LANCZOS)
    if req.mirror:
        im = ImageOps.mirror(im)
    if req.quality == "gray":
        im = im.convert("LA" if im.mode in ("RGBA", "LA") else "L")
    elif req.quality == "bitonal":
        # a threshold, not dithering: text stays crisp and the output is small
        im = im.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1")
    elif im.mode == "L" and req.quality == "color":
        im = im.convert("RGB")
    if req.rotation:
        if req.rotation in (90, 180, 270):
            im = im.transpose({90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                               270: Image.Transpose.ROTATE_90}[int(req.rotation)])
        else:
            # IIIF rotates clockwise; Pillow counter-clockwise. Transparent corners where possible.
            if req.format in ("png", "webp", "tif", "gif") and im.mode != "1":
                im = im.convert("RGBA" if im.mode not in ("LA", "RGBA") else im.mode)
                fill = None
            else:
                fill = 255 if im.mode in ("L", "1") else (255, 255, 255)
            im = im.rotate(-req.rotation, Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    pil_format = FORMATS[req.format][0]
    if pil_format == "JPEG" and im.mode not in ("RGB", "L"):
        im = im.convert("RGB" if im.mode not in ("LA", "1") else "L")
    out = io.BytesIO()
    options: dict = {}
    if pil_format == "JPEG":
        options = {"quality": 85, "optimize": False}
    elif pil_format == "WEBP":
        options = {"quality": 85, "method": 2}
    elif pil_format == "PNG":
        options = {"compress_level": 3}
    elif pil_format == "TIFF":
        options = {"compression": "tiff_deflate" if im.mode != "1" else "group4"}
    im.save(out, pil_format, **options)
    return out.getvalue()
