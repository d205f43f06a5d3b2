"""A short run of bench/load.py: concurrent readers on the real server while a batch ingests.

The full 60 s / 50 readers run is `python bench/load.py` (figures in docs/scale-out.md); this
one is short enough for the test command and asserts the same: bounded, zero errors.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_concurrent_readers_during_batch_ingest_see_no_errors(record_figure, count_case):
    count_case("load")
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    load = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = load  # dataclasses look their module up there
    spec.loader.exec_module(load)
    readers = 12
    f = load.run_load(10, readers, quiet=True, threads=16)
    assert f["requests"] > readers, f
    assert f["errors"] == 0, (f["error_samples"], f.get("server_errors"))
    assert set(f["kinds"]) >= {"search-html", "search-api", "item-page", "iiif-tile", "iiif-info", "manifest"}
    p95 = ", ".join(f"{k} {v['p95'] * 1000:.0f}" for k, v in f["kinds"].items())
    record_figure(f"load: {readers} readers x {f['seconds']:.0f}s + batch ingest",
                  f"{f['requests']} requests, 0 errors, {f['rps']:.1f}/s; p95 ms: {p95}")
