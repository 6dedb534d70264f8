#!/usr/bin/env bash
# Runs a containerd dedicated to hive, with its own socket, root and state
# directory, for hosts where no system containerd answers (the Docker Engine's
# containerd is Docker's own: it lives and dies with dockerd). hive's
# containerd runtime plugin, its tests, the acceptance tests and the benchmark
# use it; `make containerd` and CI call this script.
#
#   containerd.sh start    start it unless it answers already (idempotent)
#   containerd.sh stop     stop it (running task containers keep running)
#   containerd.sh status   say whether it answers
#
# Environment: HIVE_CONTAINERD_SOCKET (default /run/hive-containerd/containerd.sock),
# HIVE_CONTAINERD_ROOT (default /var/lib/hive-containerd), HIVE_CONTAINERD_LOG
# (default /var/log/hive-containerd.log). Needs root, Debian's containerd and
# runc packages, and containernetworking-plugins for the tasks' network.
set -euo pipefail
sock=${HIVE_CONTAINERD_SOCKET:-/run/hive-containerd/containerd.sock}
root=${HIVE_CONTAINERD_ROOT:-/var/lib/hive-containerd}
log=${HIVE_CONTAINERD_LOG:-/var/log/hive-containerd.log}
state=$(dirname "$sock")
pidfile=$state/containerd.pid

answers() { ctr -a "$sock" version >/dev/null 2>&1; }

start() {
  if answers; then
    echo "containerd answers at $sock"
    return 0
  fi
  for bin in containerd ctr runc containerd-shim-runc-v2; do
    command -v "$bin" >/dev/null || { echo "containerd.sh: $bin is missing: apt-get install containerd runc" >&2; exit 1; }
  done
  [ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] ||
    { echo "containerd.sh: the CNI plugins are missing: apt-get install containernetworking-plugins" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "containerd.sh: must run as root" >&2; exit 1; }
  mkdir -p "$state" "$root"
  cat >"$state/config.toml" <<TOML
# Written by plugins/runtime-containerd/scripts/containerd.sh.
version = 2
root = "$root"
state = "$state/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = "$state/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$root/opt"
TOML
  setsid containerd --config "$state/config.toml" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 300); do
    if answers; then
      echo "containerd $(ctr -a "$sock" version 2>/dev/null | awk '/Server:/{s=1} s&&/Version:/{print $2; exit}') answers at $sock (log: $log)"
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "containerd.sh: containerd exited; see $log:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "containerd.sh: containerd did not answer at $sock within 30s; see $log" >&2
  exit 1
}

stop() {
  if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
  echo "containerd at $sock stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if answers; then echo "containerd answers at $sock"; else echo "containerd does not answer at $sock"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
