#!/usr/bin/env bash
# Debian's DejaVu fonts: the PDF certificate is set in DejaVu Serif so that names beyond Latin-1 print
# (tests/verification/test_pdf.py checks one). Idempotent and quiet.
set -euo pipefail
if [ -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null
