#!/usr/bin/env bash
# The product on the embedded default (SQLite + files + Whoosh, no service to start) with the
# demo collection of real Cantonese / Lingnan material. Prints the URL to open.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HERITAGE_DATA_DIR="${HERITAGE_DATA_DIR:-$PWD/var/demo}"
heritage demo
exec heritage serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
