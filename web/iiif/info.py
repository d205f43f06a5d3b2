"""The Image API 3.0 ``info.json`` of one image."""
from __future__ import annotations

from typing import Any

from web.iiif.image import FORMATS, MAX_AREA, MAX_HEIGHT, MAX_WIDTH, QUALITIES, max_output
from ingest.scan.pyramid import TILE

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROFILE_URI = "http://iiif.io/api/image/3/level2.json"
EXTRA_FEATURES = [
    "baseUriRedirect", "canonicalLinkHeader", "cors", "jsonldMediaType", "mirroring",
    "profileLinkHeader", "regionByPct", "regionByPx", "regionSquare", "rotationArbitrary",
    "rotationBy90s", "sizeByConfinedWh", "sizeByH", "sizeByPct", "sizeByW", "sizeByWh",
    "sizeUpscaling",
]


def scale_factors(width: int, height: int) -> list[int]:
    """Powers of two down to the level where the whole image fits in one tile."""
    factors = [1]
    while max(width, height) / factors[-1] > TILE:
        factors.append(factors[-1] * 2)
    return factors


def info_json(service_id: str, width: int, height: int) -> dict[str, Any]:
    """The info.json document for an image of ``width`` × ``height`` served at ``service_id``."""
    factors = scale_factors(width, height)
    sizes = []
    for f in reversed(factors):
        w, h = max(1, -(-width // f)), max(1, -(-height // f))
        if (w, h) == max_output(w, h) and w * h <= MAX_AREA:
            sizes.append({"width": w, "height": h})
    return {
        "@context": CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level2",
        "width": width,
        "height": height,
        "maxWidth": MAX_WIDTH,
        "maxHeight": MAX_HEIGHT,
        "maxArea": MAX_AREA,
        "tiles": [{"width": TILE, "height": TILE, "scaleFactors": factors}],
        "sizes": sizes,
        "preferredFormats": ["jpg", "webp"],
        "extraFormats": [f for f in FORMATS if f not in ("jpg", "png")],
        "extraQualities": [q for q in QUALITIES if q != "default"],
        "extraFeatures": EXTRA_FEATURES,
    }
