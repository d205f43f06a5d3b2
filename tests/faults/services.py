"""The project-started services (Elasticsearch, PostgreSQL) as seen by the fault suite."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
ES_SCRIPT = ROOT / "scripts" / "elasticsearch.sh"


def es_alive(url: str) -> bool:
    try:
        return requests.get(f"{url}/_cluster/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def elasticsearch_url() -> str | None:
    """$HERITAGE_TEST_ELASTICSEARCH_URL, else the default node of scripts/elasticsearch.sh if it
    is already running (the fault suite never starts the shared node itself)."""
    url = os.environ.get("HERITAGE_TEST_ELASTICSEARCH_URL")
    if url:
        return url if es_alive(url) else None
    if ES_SCRIPT.exists():
        r = subprocess.run(["bash", str(ES_SCRIPT), "url"], capture_output=True, text=True, timeout=30)
        url = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else None
        if url and es_alive(url):
            return url
    return None
