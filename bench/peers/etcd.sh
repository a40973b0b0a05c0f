#!/usr/bin/env bash
# A three-member etcd cluster on loopback, started and stopped by PID.
#
#   bench/peers/etcd.sh start NAME BASE_PORT   # members use BASE_PORT+0..5; prints endpoints
#   bench/peers/etcd.sh stop NAME
#
# Member i (0..2) serves clients on BASE_PORT+2i and peers on BASE_PORT+2i+1. etcd fsyncs
# its WAL before acknowledging, like Shoal. The printed URL is a shoal-bench target.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
  start)
    [ $# -ge 3 ] || die "usage: $0 start NAME BASE_PORT"
    name=$2 base=$3
    need etcd "install it with: apt-get install etcd-server"
    dir=$(state_dir "$name")
    initial=""
    for i in 0 1 2; do
      initial+="${initial:+,}m$i=http://127.0.0.1:$(( base + 2 * i + 1 ))"
    done
    for i in 0 1 2; do
      client=$(( base + 2 * i )) peer=$(( base + 2 * i + 1 ))
      mkdir -p "$dir/m$i"
      start_bg "$dir/m$i/pid" "$dir/m$i/log" etcd --name "m$i" --data-dir "$dir/m$i/data" \
        --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "$initial" --initial-cluster-token "$name" \
        --initial-cluster-state new
    done
    for i in 0 1 2; do wait_port $(( base + 2 * i )) "$dir/m$i/pid" "$dir/m$i/log"; done
    echo "etcd://127.0.0.1:$base,127.0.0.1:$(( base + 2 )),127.0.0.1:$(( base + 4 ))"
    ;;
  stop)
    [ $# -ge 2 ] || die "usage: $0 stop NAME"
    for i in 0 1 2; do stop_pid "$PEERS_DIR/$2/m$i/pid"; done
    ;;
  *) die "usage: $0 start NAME BASE_PORT | stop NAME" ;;
esac
