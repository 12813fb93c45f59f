#!/usr/bin/env bash
# The main job, until the daemon lands: builds fleetflag and evaluates the bundled example
# flag file for a few sample hosts and for a synthetic fleet of 10,000 hosts, showing how big
# each rollout wave is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" release fleetflag
ff="$root/build/release/agent/cli/fleetflag"
now=$(date +%s)

echo
echo "== fleetflag validate examples/flags.json"
"$ff" validate "$root/examples/flags.json"

echo
echo "== one host (examples/contexts.jsonl, line 2), OFREP bulk response"
sed -n 2p "$root/examples/contexts.jsonl" > /tmp/fleetflag-host.json
"$ff" eval --flags "$root/examples/flags.json" --now "$now" --context @/tmp/fleetflag-host.json --pretty

echo
echo "== a synthetic fleet of 10,000 hosts: who is in which wave"
fleet=$(mktemp /tmp/fleetflag-fleet.XXXXXX.jsonl)
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
time "$ff" eval --flags "$root/examples/flags.json" --now "$now" --contexts "$fleet" --summary
rm -f "$fleet" /tmp/fleetflag-host.json
echo
echo "Try it yourself:"
echo "  $ff eval --flags $root/examples/flags.json --flag openssl-3-upgrade --context '{\"targetingKey\":\"h1\",\"owner\":\"acme\",\"tier\":\"paying\"}'"
