# Shared helpers of the peer scripts: a state directory per instance, start in the
# background with a PID file, wait for a TCP port with a deadline, stop by PID (TERM, then
# KILL after a grace period). Sourced, not run.

PEERS_DIR=${SHOAL_PEERS_DIR:-/tmp/shoal-peers}
WAIT_S=${SHOAL_PEERS_WAIT_S:-20}
STOP_GRACE_S=10

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null || die "$1 not found: $2"; }

# state_dir NAME: the instance's directory (created).
state_dir() { mkdir -p "$PEERS_DIR/$1" && echo "$PEERS_DIR/$1"; }

# running PIDFILE: true if the PID in PIDFILE is alive.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_bg PIDFILE LOG CMD...: runs CMD in its own session, records its PID.
start_bg() {
  local pidfile=$1 log=$2; shift 2
  running "$pidfile" && die "already running (pid $(cat "$pidfile")): stop it first"
  setsid "$@" >"$log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

# wait_port PORT PIDFILE LOG: until 127.0.0.1:PORT accepts, or fail with the log's tail.
wait_port() {
  local port=$1 pidfile=$2 log=$3 deadline=$(( $(date +%s) + WAIT_S ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    running "$pidfile" || { tail -20 "$log" >&2; die "exited while starting"; }
    sleep 0.1
  done
  tail -20 "$log" >&2
  die "port $port not open after ${WAIT_S}s"
}

# stop_pid PIDFILE: TERM, wait up to STOP_GRACE_S, then KILL; removes PIDFILE.
stop_pid() {
  local pidfile=$1 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for i in $(seq $(( STOP_GRACE_S * 10 ))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped pid $pid"
  fi
  rm -f "$pidfile"
}
