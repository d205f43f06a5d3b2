"""A terminal progress bar over jobs (tqdm), fed with Job rows."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from tqdm import tqdm

from repository.models import Job


@contextmanager
def job_progress_bar() -> Iterator[Callable[[list[Job]], None]]:
    bar = tqdm(total=0, unit="step", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)

    def update(jobs: list[Job]) -> None:
        done = sum(float(j.progress.get("done") or 0) for j in jobs)
        total = sum(float(j.progress.get("total") or 0) for j in jobs)
        bar.total = max(total, 1)
        bar.n = min(done, bar.total)
        steps = [j.progress.get("step", "") for j in jobs if j.state == "running"]
        bar.set_description(steps[0][:40] if steps else "waiting", refresh=True)

    try:
        yield update
    finally:
        bar.close()
