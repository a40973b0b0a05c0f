#!/usr/bin/env bash
# dynalite (a DynamoDB implementation on LevelDB, npm) on loopback, by PID.
#
#   bench/peers/dynalite.sh start NAME PORT   # prints the endpoint
#   bench/peers/dynalite.sh stop NAME
#
# Install once with: npm install -g dynalite. Data lives in $SHOAL_PEERS_DIR/NAME/db.
# The printed URL is a shoal-bench target (any AWS_ACCESS_KEY_ID/SECRET will do).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
  start)
    [ $# -ge 3 ] || die "usage: $0 start NAME PORT"
    name=$2 port=$3
    need dynalite "install it with: npm install -g dynalite"
    dir=$(state_dir "$name")
    start_bg "$dir/pid" "$dir/log" dynalite --host 127.0.0.1 --port "$port" --path "$dir/db"
    wait_port "$port" "$dir/pid" "$dir/log"
    echo "dynamodb+http://127.0.0.1:$port"
    ;;
  stop)
    [ $# -ge 2 ] || die "usage: $0 stop NAME"
    stop_pid "$PEERS_DIR/$2/pid"
    ;;
  *) die "usage: $0 start NAME PORT | stop NAME" ;;
esac
