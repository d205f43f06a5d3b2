"""Whoosh under a concurrent writer in another process: every search answers.

Another process's commit can replace the index generation a reader is just opening and delete its
files; the backend must read the newer generation instead of failing (seen as 500s under load).
"""
from __future__ import annotations

import subprocess
import threading
import sys
from pathlib import Path

from search.backend import SearchRequest, Visibility
from search.documents import Document
from search.query import parse
from search.whoosh_backend import WhooshBackend

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from search.whoosh_backend import WhooshBackend
from tests.search.test_whoosh_concurrency import doc
b = WhooshBackend({path!r})
end = time.monotonic() + {seconds}
n = 0
while time.monotonic() < end:
    b.replace_items([n % 7], [doc(n % 7, n)])
    n += 1
print(n)
"""


def doc(item_id: int, n: int) -> Document:
    text = f"廣州商會第{n}次會議"
    return Document(id=f"item-{item_id}", kind="item", item_id=item_id, texts={"all": text, "title": text},
                    facets={"subject": ["商會"]}, public=True, institution_id=1, title_sort=text,
                    date_sort=1925, year_from=1925, year_to=1925)


def test_searches_answer_while_another_process_commits(tmp_path):
    path = tmp_path / "whoosh"
    reader = WhooshBackend(path)
    reader.replace_items([0], [doc(0, 0)])
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path), seconds=6)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    request = SearchRequest(root=parse("商會").root, visibility=Visibility(everything=True))
    searches, errors = [0], []

    def read() -> None:
        mine = WhooshBackend(path)  # one backend per thread, as in one web process per request
        while writer.poll() is None:
            try:
                assert mine.search(request).total >= 1
            except Exception as exc:  # every failure is collected and reported below
                errors.append(f"{type(exc).__name__}: {exc}")
            searches[0] += 1
            mine.close()

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    commits = int(out.strip())
    assert commits > 20 and searches[0] > 20, (commits, searches)
    assert errors == [], f"{len(errors)} of {searches[0]} searches failed during {commits} commits: {errors[:3]}"
