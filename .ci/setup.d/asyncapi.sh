#!/usr/bin/env bash
# The AsyncAPI project's own parser (@asyncapi/parser, npm), for tests/deploy/test_asyncapi.py.
# Installs .ci/node/asyncapi/ from its lockfile into node_modules/ there (ignored by git).
# Idempotent and quiet: does nothing when the locked version is installed already.
set -euo pipefail
export SCARF_ANALYTICS=false  # @asyncapi/parser pulls in @scarf/scarf, which would phone home on install
dir="$(cd "$(dirname "$0")/../node/asyncapi" && pwd)"
wanted="$(node -p "require('$dir/package-lock.json').packages['node_modules/@asyncapi/parser'].version")"
installed="$(node -p "try { require('$dir/node_modules/@asyncapi/parser/package.json').version } catch { '' }")"
if [ "$wanted" = "$installed" ]; then
    exit 0
fi
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
