#!/usr/bin/env bash
# Redis on loopback for shoal-bench, started and stopped by PID.
#
#   bench/peers/redis.sh start NAME PORT [--fsync-always]   # prints the target URL
#   bench/peers/redis.sh stop NAME
#
# Without --fsync-always: no persistence at all (memory only). With it: AOF with
# `appendfsync always`, so each write is fsynced before the reply, like Shoal's
# acknowledged writes. State lives in $SHOAL_PEERS_DIR/NAME (default /tmp/shoal-peers).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
  start)
    [ $# -ge 3 ] || die "usage: $0 start NAME PORT [--fsync-always]"
    name=$2 port=$3 mode=${4:-}
    need redis-server "install it with: apt-get install redis-server"
    dir=$(state_dir "$name")
    persistence=(--save "" --appendonly no)
    if [ "$mode" = "--fsync-always" ]; then
      persistence=(--save "" --appendonly yes --appendfsync always)
    elif [ -n "$mode" ]; then
      die "unknown option $mode (expected --fsync-always)"
    fi
    start_bg "$dir/pid" "$dir/log" redis-server --port "$port" --bind 127.0.0.1 \
      --dir "$dir" "${persistence[@]}" --daemonize no
    wait_port "$port" "$dir/pid" "$dir/log"
    echo "redis://127.0.0.1:$port"
    ;;
  stop)
    [ $# -ge 2 ] || die "usage: $0 stop NAME"
    stop_pid "$PEERS_DIR/$2/pid"
    ;;
  *) die "usage: $0 start NAME PORT [--fsync-always] | stop NAME" ;;
esac
