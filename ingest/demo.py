"""The demo collection (placeholder until the ingest pipelines land)."""
from __future__ import annotations

from typing import Iterator

from repository import Repository


def build_demo(repo: Repository, fresh: bool = False) -> Iterator[str]:
    yield "demo: nothing to build yet"
