#!/usr/bin/env bash
# Debian's socat, the TLS front of the embedded broker in tests/security/test_tls.py (the bundled
# Tansu 0.6 cannot listen with TLS itself). Idempotent and quiet: does nothing when socat is on PATH.
set -euo pipefail
if command -v socat >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends socat >/dev/null
