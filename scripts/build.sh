#!/usr/bin/env bash
# Configures and builds one CMake preset. Usage: scripts/build.sh [PRESET [TARGET...]]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-release}
shift || true
cd "$root"
cmake --preset "$preset" >/dev/null
if (($#)); then
  cmake --build --preset "$preset" -j"$(nproc)" --target "$@"
else
  cmake --build --preset "$preset" -j"$(nproc)"
fi
