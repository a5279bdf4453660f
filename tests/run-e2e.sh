#!/usr/bin/env bash
# Run the bats end-to-end suite against bin/. Each file starts and stops its own servers.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export DU_TOP="$top" DU_BIN="$top/bin"
exec bats ${BATS_ARGS:-} "$top/tests/e2e"
