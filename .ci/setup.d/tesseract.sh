#!/usr/bin/env bash
# Debian's Tesseract OCR (English data), to read the verification page's screenshot in tests/verification/.
# Idempotent and quiet: does nothing when /usr/bin/tesseract is already there.
set -euo pipefail
if [ -x /usr/bin/tesseract ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng >/dev/null
