#!/usr/bin/env bash
# Strimzi's CRD schemas as compiled validators (@kubernetes-models/strimzi-kafka-operator, npm), for
# tests/deploy/test_k8s.py. Installs .ci/node/strimzi/ from its lockfile into node_modules/ there (ignored by git).
# Idempotent and quiet: does nothing when the locked version is installed already.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../node/strimzi" && pwd)"
package="@kubernetes-models/strimzi-kafka-operator"
wanted="$(node -p "require('$dir/package-lock.json').packages['node_modules/$package'].version")"
installed="$(node -p "try { require('$dir/node_modules/$package/package.json').version } catch { '' }")"
if [ "$wanted" = "$installed" ]; then
    exit 0
fi
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
