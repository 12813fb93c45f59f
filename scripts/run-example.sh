#!/usr/bin/env bash
# The main job: builds fleetflag, previews the bundled example flags across a synthetic fleet,
# then runs the agent (fleetflagd) serving them on a local Unix socket, in the foreground,
# until Ctrl-C. Set FLEETFLAG_DEMO_SECONDS=N to stop it after N seconds instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release fleetflag fleetflagd
ff="$root/build/release/agent/cli/fleetflag"
ffd="$root/build/release/agent/app/fleetflagd"
flags="$root/examples/flags.json"
now=$(date +%s)

echo
echo "== fleetflag validate examples/flags.json"
"$ff" validate "$flags"

echo
echo "== preview: a synthetic fleet of 10,000 hosts, who is in which wave"
fleet=$(mktemp /tmp/fleetflag-fleet.XXXXXX)
awk 'BEGIN {
  srand(42);
  split("platform sre acme globex initech umbrella", owners, " ");
  split("internal internal paying paying paying free", tiers, " ");
  split("eu-west eu-central us-east us-west ap-south", regions, " ");
  split("web db build cache", roles, " ");
  for (i = 0; i < 10000; i++) {
    o = 1 + int(rand() * 6);
    printf "{\"targetingKey\":\"%08x%08x\",\"hostname\":\"%s-%d\",\"owner\":\"%s\",\"tier\":\"%s\",\"region\":\"%s\",\"os_version\":\"%d.%d\",\"incident_open\":%s}\n",
      int(rand() * 4294967295), i, roles[1 + int(rand() * 4)], i, owners[o], tiers[o],
      regions[1 + int(rand() * 5)], 11 + int(rand() * 2), int(rand() * 8),
      (rand() < 0.02 ? "true" : "false");
  }
}' > "$fleet"
"$ff" eval --flags "$flags" --now "$now" --contexts "$fleet" --summary
rm -f "$fleet"

demo=/tmp/fleetflag-demo
mkdir -p "$demo"
sock="$demo/fleetflag.sock"
echo
echo "== fleetflagd: this host as a paying customer's web server, definitions mode"
echo "   socket $sock, cache $demo/state/cache.db"
echo
echo "Try it (from another shell):"
echo "  curl -s --unix-socket $sock http://localhost/v1/flags | python3 -m json.tool"
echo "  curl -s --unix-socket $sock http://localhost/v1/flags/openssl-3-upgrade"
echo "  curl -s --unix-socket $sock http://localhost/v1/status"
echo "  $ff list --socket $sock"
echo "  $ff context --socket $sock    # this host's context and where each attribute came from"
echo "  $ff enabled kernel-livepatch --socket $sock && echo patch || echo skip"
echo
args=(--mode definitions --url "$flags" --socket "$sock" --state-dir "$demo/state"
      --interval 10s --attribute owner=acme --attribute tier=paying --attribute hostname=web-17
      --attribute os_version=12.4 --attribute region=eu-west --attribute incident_open=false)
if [[ -n ${FLEETFLAG_DEMO_SECONDS:-} ]]; then
  "$ffd" "${args[@]}" &
  pid=$!
  for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
  curl -s --unix-socket "$sock" http://localhost/v1/flags/openssl-3-upgrade; echo
  "$ff" list --socket "$sock"
  sleep "$FLEETFLAG_DEMO_SECONDS"
  kill -TERM "$pid"; wait "$pid"
else
  exec "$ffd" "${args[@]}"
fi
