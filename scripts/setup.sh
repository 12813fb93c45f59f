#!/usr/bin/env bash
# Installs everything fleetflag needs to build, test and run on Debian 12, as root.
# Idempotent and fast when everything is already present.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang clang-format clang-tidy libclang-rt-14-dev
  libboost-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libboost-dev libssl-dev openssl
  libcli11-dev libyaml-cpp-dev libssl-dev libhowardhinnant-date-dev
  tzdata  # libdate-tz reads zones from /usr/share/zoneinfo (USE_OS_TZDB) at run time
  nodejs npm curl
  nghttp2-client  # h2load: HTTP load over a Unix socket (bench/socket)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine image may ship node/npm outside dpkg; do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node packages used by the tests (OpenFeature's own evaluator as the oracle).
root=$(cd "$(dirname "$0")/.." && pwd)
for dir in tests/diff tests/server tests/integration; do
  if [[ -f $root/$dir/package.json ]]; then
    if [[ ! -d $root/$dir/node_modules || $root/$dir/package-lock.json -nt $root/$dir/node_modules ]]; then
      (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  fi
done
echo "setup: ok"
