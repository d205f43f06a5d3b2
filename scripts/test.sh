#!/usr/bin/env bash
# The whole test suite against real parts: Tesseract, ffmpeg, espeak-ng, Chromium, and the
# project-started Elasticsearch and PostgreSQL. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
started=()
# stop only what this run started (FORCE: the Elasticsearch script otherwise counts its users)
cleanup() { for s in "${started[@]}"; do FORCE=1 bash "scripts/$s.sh" stop || true; done; }
trap cleanup EXIT
for s in elasticsearch postgres; do
  [ -f "scripts/$s.sh" ] || continue
  if bash "scripts/$s.sh" status >/dev/null 2>&1; then
    echo "test: $s is already running; using it and leaving it running"
  else
    bash "scripts/$s.sh" start && started+=("$s")
  fi
done
[ -f scripts/elasticsearch.sh ] && export HERITAGE_TEST_ELASTICSEARCH_URL="$(bash scripts/elasticsearch.sh url)"
[ -f scripts/postgres.sh ] && export HERITAGE_TEST_POSTGRES_URL="$(bash scripts/postgres.sh url)"
python3 -m pytest -p no:cacheprovider -n 2 --dist loadgroup -rfEs "$@" tests
