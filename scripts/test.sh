#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, the differential test against
# OpenFeature's flagd-core, the CLI tests and the integration tests (label `integration`: the
# real fleetflagd/fleetflag against the flagd test server, tests/integration/README.md), with
# ctest on the default preset.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" default
cd "$root"
ctest --preset default -j"$(nproc)"
