#!/usr/bin/env bash
# moto's server (an in-memory AWS mock, pip) on loopback, by PID.
#
#   bench/peers/moto.sh start NAME PORT   # prints the endpoint
#   bench/peers/moto.sh stop NAME
#
# Install once with: pip install 'moto[server]'. Memory only.
# The printed URL is a shoal-bench target (any AWS_ACCESS_KEY_ID/SECRET will do).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
  start)
    [ $# -ge 3 ] || die "usage: $0 start NAME PORT"
    name=$2 port=$3
    need moto_server "install it with: pip install 'moto[server]'"
    dir=$(state_dir "$name")
    start_bg "$dir/pid" "$dir/log" moto_server -H 127.0.0.1 -p "$port"
    wait_port "$port" "$dir/pid" "$dir/log"
    echo "dynamodb+http://127.0.0.1:$port"
    ;;
  stop)
    [ $# -ge 2 ] || die "usage: $0 stop NAME"
    stop_pid "$PEERS_DIR/$2/pid"
    ;;
  *) die "usage: $0 start NAME PORT | stop NAME" ;;
esac
