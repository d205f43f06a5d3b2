"""Decoding scans safely and making their derivatives (page image, thumbnail).

Pillow does the decoding (JPEG, PNG, TIFF incl. multi-page / 16-bit / CMYK, WebP, JPEG 2000).
Every image is checked against ``settings.max_image_pixels`` *before* its pixels are decoded,
so a decompression bomb is refused from its header alone.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from config import InvalidInput, TooLarge

#: no side of a page may be longer than this (JPEG's own limit is 65 535)
MAX_SIDE = 100_000
#: page derivatives larger than this many pixels are stored as JPEG (quality 95) so that an image
#: server can decode them at reduced size (JPEG DCT scaling, ``Image.draft``) without loading all
JPEG_ABOVE_PIXELS = 40_000_000
THUMBNAIL_SIZE = (400, 400)
_SRGB = ImageCms.createProfile("sRGB")


@contextmanager
def opened(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """Open ``path`` lazily (header only) and check its dimensions; raises InvalidInput/TooLarge.

    Our own check (:func:`check_dimensions`) enforces ``max_pixels``; Pillow's process-wide bomb
    limit is only raised to it when lower (never lowered, never swapped back and forth: pages are
    opened from several threads at once)."""
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise TooLarge(f"{path.name}: image is too large to process safely ({exc})") from None
    except UnidentifiedImageError:
        raise InvalidInput(f"{path.name}: not an image Pillow can read (corrupt or unsupported)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"{path.name}: cannot read the image: {exc}") from None
    with img:
        check_dimensions(path.name, img.size, max_pixels)
        yield img


def check_dimensions(name: str, size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w < 1 or h < 1 or w > MAX_SIDE or h > MAX_SIDE:
        raise InvalidInput(f"{name}: absurd image dimensions {w}x{h} pixels")
    if w * h > max_pixels:
        raise TooLarge(f"{name}: {w}x{h} = {w * h:,} pixels is more than the limit of {max_pixels:,} "
                       f"(setting max_image_pixels); a possible decompression bomb")


def frame_count(path: Path, max_pixels: int, *, decode: bool = True) -> int:
    """Number of pages (frames) in an image file. With ``decode`` every frame is fully decoded
    once, so truncated or corrupt data is refused now rather than in the background job."""
    with opened(path, max_pixels) as img:
        n = getattr(img, "n_frames", 1) or 1
        for i in range(n):
            try:
                img.seek(i)
                check_dimensions(f"{path.name} page {i + 1}", img.size, max_pixels)
                if decode:
                    img.load()
            except (InvalidInput, TooLarge):
                raise
            except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError… on bad data
                raise InvalidInput(f"{path.name}: page {i + 1} cannot be decoded "
                                   f"(truncated or corrupt?): {exc}") from None
        return n


def load_frame(path: Path, frame: int, max_pixels: int) -> Image.Image:
    """Decode one frame as an 8-bit gray or sRGB image (EXIF orientation applied)."""
    with opened(path, max_pixels) as img:
        try:
            img.seek(frame)
            img.load()
            return to_8bit(img)
        except (InvalidInput, TooLarge):
            raise
        except Exception as exc:
            raise InvalidInput(f"{path.name}: page {frame + 1} cannot be decoded: {exc}") from None


def reusable_as_page(path: Path, max_pixels: int) -> str | None:
    """The MIME type when the file itself can serve as the page derivative (a single-frame 8-bit
    gray/RGB PNG or baseline JPEG, no colour profile, upright), else None. Reusing it avoids a
    re-encode, and the content-addressed store keeps the bytes once for both roles."""
    with opened(path, max_pixels) as img:
        if img.format not in ("PNG", "JPEG") or getattr(img, "n_frames", 1) != 1 or img.mode not in ("L", "RGB"):
            return None
        if img.info.get("icc_profile") or img.info.get("transparency") is not None:
            return None
        if img.format == "JPEG" and img.getexif().get(0x0112, 1) != 1:  # EXIF orientation
            return None
        if img.width * img.height > JPEG_ABOVE_PIXELS and img.format == "PNG":
            return None
        return "image/png" if img.format == "PNG" else "image/jpeg"


def to_8bit(img: Image.Image) -> Image.Image:
    """Normalise any mode to 'L' (gray) or 'RGB' in sRGB: 16-bit gray is scaled (not clipped),
    CMYK and images with an ICC profile are converted through LittleCMS, alpha is flattened on white."""
    img = ImageOps.exif_transpose(img) if img.format in ("JPEG", "TIFF", "WEBP") else img
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray((arr * (255.0 / top)).clip(0, 255).round().astype("uint8"), "L")
    if mode == "F":
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return Image.fromarray(((arr - lo) * scale).clip(0, 255).astype("uint8"), "L")
    if mode == "1":
        return img.convert("L")
    if mode in ("LA", "RGBA", "PA", "P") and ("transparency" in img.info or "A" in mode):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    icc = img.info.get("icc_profile")
    if icc and mode in ("RGB", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, src, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to the plain conversion below
    if mode == "L":
        return img
    if mode == "RGB":
        return img
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "P", "PA", "LA", "RGBX", "RGBa"):
        return img.convert("RGB")
    return img.convert("RGB")


def is_gray(img: Image.Image) -> bool:
    """True when an RGB image carries no colour (so it can be stored as 8-bit gray)."""
    if img.mode == "L":
        return True
    small = img.convert("RGB").reduce(max(1, min(img.size) // 256) or 1)
    r, g, b = small.split()
    from PIL import ImageChops

    return max(ImageChops.difference(r, g).getextrema()[1], ImageChops.difference(g, b).getextrema()[1]) <= 8


def save_page_image(img: Image.Image, dest_stem: Path) -> tuple[Path, str]:
    """Write the page derivative: PNG (lossless) up to JPEG_ABOVE_PIXELS, JPEG q95 above."""
    if img.mode == "RGB" and is_gray(img):
        img = img.convert("L")
    if img.width * img.height > JPEG_ABOVE_PIXELS:
        path = dest_stem.with_suffix(".jpg")
        img.save(path, "JPEG", quality=95, subsampling=0, optimize=True)
        return path, "image/jpeg"
    path = dest_stem.with_suffix(".png")
    img.save(path, "PNG", compress_level=3)
    return path, "image/png"


def save_thumbnail(img: Image.Image, dest: Path) -> Path:
    """A JPEG thumbnail no larger than THUMBNAIL_SIZE."""
    thumb = img.copy()
    thumb.thumbnail(THUMBNAIL_SIZE, Image.LANCZOS)
    if thumb.mode not in ("L", "RGB"):
        thumb = thumb.convert("RGB")
    thumb.save(dest, "JPEG", quality=85)
    return dest
