#!/usr/bin/env bash
# Installs everything the product and its tests need on a fresh Debian machine (idempotent):
# Debian packages (Tesseract + Chinese models, ffmpeg, espeak-ng, Noto CJK fonts, poppler,
# Chromium, PostgreSQL, Java for Elasticsearch), the Python package with its test extras, the
# npm packages of the viewer, and the compiled UI translations.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-tra tesseract-ocr-chi-sim
  tesseract-ocr-chi-tra-vert tesseract-ocr-chi-sim-vert
  ffmpeg espeak-ng sox fonts-noto-cjk poppler-utils
  chromium postgresql openjdk-17-jre-headless maven
  libvips42
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

if [ -f web/viewer/package.json ]; then
  (cd web/viewer && npm install --no-audit --no-fund --loglevel=error)
fi
if ls web/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then
  pybabel compile -d web/translations >/dev/null
fi
