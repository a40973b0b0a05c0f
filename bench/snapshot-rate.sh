#!/bin/bash
# Snapshot transfer rate on a local 3-node cluster (one shard per node): node 3 is killed,
# RECORDS items of VSIZE bytes are loaded without it, the leaders checkpoint every 2 s and
# keep 1,000 entries for a laggard, so node 3 returns far behind and every partition's
# leader streams it a snapshot. Prints the leaders' "snapshot sent" lines (rows, bytes, ms,
# MiB/s) and node 3's "snapshot installed" lines.
#
#   cargo build --release -p shoal-node -p shoal-tools -p shoal-bench
#   bench/snapshot-rate.sh [BIN_DIR (target/release)] [DIR (/tmp/shoal-snapshot-rate)]
#
# Environment: RECORDS (100000), VSIZE (1000).
set -euo pipefail
B=${1:-target/release}
D=${2:-/tmp/shoal-snapshot-rate}
RECORDS=${RECORDS:-100000}
VSIZE=${VSIZE:-1000}
export SHOAL_NODE_BIN=$B/shoal-node
plain() { sed 's/\x1b\[[0-9;]*m//g' "$@"; }
rm -rf "$D"
"$B/shoal" up --nodes 3 --shards-per-node 1 --dir "$D" --no-gateway > /dev/null
"$B/shoal" down --dir "$D" > /dev/null
for n in 1 2 3; do
  sed -i 's/^checkpoint_interval_s = .*/checkpoint_interval_s = 2/;
          s/^log_kept_for_followers = .*/log_kept_for_followers = 1000/' "$D/node-$n/node.toml"
done
"$B/shoal" up --dir "$D" --no-gateway > /dev/null
kill -9 "$(cat "$D/node-3/pid")"
sleep 1
"$B/shoal-bench" run --target "shoal://$D/cluster.toml" --workload put --records "$RECORDS" \
  --value-size "$VSIZE" --duration 1 --concurrency 64 > /dev/null
sleep 5
"$B/shoal" up --dir "$D" --no-gateway > /dev/null
partitions=3
for _ in $(seq 1 300); do
  n=$(plain "$D/node-3/log" | grep -c "snapshot installed" || true)
  [ "$n" -ge "$partitions" ] && break
  sleep 1
done
plain "$D/node-1/log" "$D/node-2/log" | grep "snapshot sent" | sed 's/.*snapshot sent/sent/'
plain "$D/node-3/log" | grep "snapshot installed" | sed 's/.*snapshot installed/installed/'
"$B/shoal" down --dir "$D" > /dev/null
