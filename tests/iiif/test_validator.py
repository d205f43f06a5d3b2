"""The IIIF consortium's validator (PyPI iiif-validator) against a live server: every level 2 test."""
from __future__ import annotations

from urllib.parse import urlparse

from iiif_validator.validator import ImageAPI, TestSuite, ValidationInfo

from tests.iiif.conftest import VALIDATOR_ID, validator_image

#: Level 3 tests for features this server also offers (everything but JPEG 2000 and PDF output).
#: format_webp is left out because that validator test is broken on Python 3 (it calls
#: urllib.urlopen); WebP output is checked in test_image_api.py instead.
EXTRA = {"format_tif", "format_gif", "linkheader_canonical", "linkheader_profile",
         "rot_full_non90", "rot_region_non90", "rot_mirror", "rot_mirror_180", "size_up"}


def run_validator(base: str) -> dict[str, str]:
    server = urlparse(base).netloc
    tests = TestSuite(ValidationInfo()).list_tests("3.0")
    failures = {}
    ran = 0
    for name, meta in sorted(tests.items()):
        if meta["level"] > 2 and name not in EXTRA:
            continue
        ran += 1
        result = ImageAPI(VALIDATOR_ID, server, "iiif/3", "http", "", "3.0", debug=False)
        try:
            TestSuite(ValidationInfo()).run_test(name, result)
        except Exception as exc:  # the validator signals some failures by raising
            failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        if result.exception:
            e = result.exception
            failures[name] = f"{e.type}: got {e.got!r} expected {e.expected!r} {e.message} {result.urls}"
    assert ran >= 34
    return failures


def test_validator_level2_generated_image(builder, live_server):
    """Our own rendering of the validator's colour grid, generated from the validator's table."""
    builder.item([(validator_image(), [], "")], image_ids=[VALIDATOR_ID])
    assert run_validator(live_server) == {}


def test_validator_level2_reference_image(builder, live_server, shared_data):
    """The validator's reference image itself (from ../shared/data)."""
    from PIL import Image

    im = Image.open(shared_data / "iiif" / f"{VALIDATOR_ID}.png")
    im.load()
    builder.item([(im, [], "")], image_ids=[VALIDATOR_ID])
    assert run_validator(live_server) == {}
