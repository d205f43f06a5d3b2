"""Fixity: re-verify the SHA-256 of every stored blob against its record.

Each check updates ``Blob.last_checked_at`` / ``last_check_ok`` and records a PREMIS
"fixity check" :class:`~repository.models.Event` (outcome success/failure, with the items the
blob belongs to). Results are committed in batches so a long run survives an interruption.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, select

from repository import Repository
from repository.models import Blob, File, utcnow

BATCH = 200


@dataclass
class FixityProblem:
    sha256: str
    problem: str  # "missing" | "altered"
    items: list[int]
    actual: str | None = None

    def describe(self, repo: Repository) -> str:
        where = repo.store.path(self.sha256)
        items = ", ".join(str(i) for i in self.items) or "no item"
        if self.problem == "missing":
            return f"MISSING {where} (items: {items})"
        return f"ALTERED {where}: now hashes to {self.actual} (items: {items})"


@dataclass
class FixityReport:
    checked: int = 0
    ok: int = 0
    problems: list[FixityProblem] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.problems)


def count_blobs(repo: Repository) -> int:
    with repo.session() as s:
        return s.scalar(select(func.count()).select_from(Blob)) or 0


def verify_all(repo: Repository, *, agent: str = "heritage-fixity",
               on_checked: Callable[[str, bool], None] | None = None) -> FixityReport:
    """Check every blob; returns what was found. ``on_checked(sha, ok)`` is called per blob."""
    report = FixityReport()
    last = ""
    while True:
        with repo.unit_of_work(agent) as uow:
            s = uow.session
            blobs = list(s.scalars(select(Blob).where(Blob.sha256 > last).order_by(Blob.sha256).limit(BATCH)))
            if not blobs:
                break
            shas = [b.sha256 for b in blobs]
            owners: dict[str, list[int]] = {}
            for sha, item_id in s.execute(select(File.sha256, File.item_id).where(File.sha256.in_(shas))
                                          .distinct().order_by(File.item_id)):
                owners.setdefault(sha, []).append(item_id)
            for blob in blobs:
                actual = repo.store.hash_of(blob.sha256)
                ok = actual == blob.sha256
                items = owners.get(blob.sha256, [])
                blob.last_checked_at = utcnow()
                blob.last_check_ok = ok
                detail = {"algorithm": "SHA-256", "expected": blob.sha256, "items": items}
                if actual is None:
                    detail["problem"] = "missing"
                elif not ok:
                    detail.update(problem="altered", actual=actual)
                uow.event("fixity check", item=items[0] if items else None, sha256=blob.sha256,
                          outcome="success" if ok else "failure", detail=detail)
                report.checked += 1
                if ok:
                    report.ok += 1
                else:
                    report.problems.append(FixityProblem(blob.sha256, "missing" if actual is None else "altered",
                                                         items, actual))
                if on_checked:
                    on_checked(blob.sha256, ok)
            last = shas[-1]
    return report
