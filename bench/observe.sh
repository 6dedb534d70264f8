#!/usr/bin/env bash
# bench/observe.sh: the idle cost of hive's observability. Starts one hive
# node with its defaults (metrics on; events and the web view too once those
# keys exist), runs a few services, and measures the RSS and CPU of the hive
# process and its plugins over an idle window; then again with everything in
# OFF_ENV turned off. Prints both and the ratio.
#
#   BENCH_IDLE=60 BENCH_SERVICES=3 bench/observe.sh
#
# OFF_ENV is the one place that lists what "off" means: add a key there when
# a new observability feature lands (e.g. HIVE_EVENTS_RING_SIZE=0
# HIVE_WEB_LISTEN=).
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=observe-bench
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
IDLE=${BENCH_IDLE:-60}
SERVICES=${BENCH_SERVICES:-3}
OFF_ENV=${BENCH_OFF_ENV:-"HIVE_METRICS_LISTEN="}
IMAGE=hive-test/web:v1
CLI_TIMEOUT=30

clear_hive_env
need_hive
need_count BENCH_IDLE "$IDLE" seconds
need_count BENCH_SERVICES "$SERVICES" services

RUN_ID="$$-$(date +%s)"
DIR=""
HIVE_PID=""
cleanup() {
	if [[ -n $DIR ]]; then
		local i
		for i in $(seq "$SERVICES"); do hc "$DIR" service rm "obs-$RUN_ID-$i" >/dev/null 2>&1 || true; done
		sleep 3
		timeout 15 "$HIVE" -H "unix://$DIR/hive.sock" down >/dev/null 2>&1 || true
		kill_ours "$HIVE_PID"
		rm -rf "$DIR"
		DIR=""
	fi
}
trap cleanup EXIT
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

# cpu_ticks PIDS...: utime+stime of the processes, in clock ticks.
cpu_ticks() {
	local p t=0 s
	for p in "$@"; do
		s=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + s))
	done
	echo "$t"
}

# measure LABEL ENV...: start hive with ENV, run the services, idle, and
# print "LABEL RSS_KB CPU_SECONDS".
measure() {
	local label=$1 pids rss=0 p t0 t1 i
	shift
	DIR=$(mktemp -d "/tmp/hive-observe-XXXX")
	env "$@" "$HIVE" up -H "unix://$DIR/hive.sock" --data-dir "$DIR" --listen-addr "127.0.0.1:$(free_port cluster)" >"$DIR/hive.log" 2>&1 &
	HIVE_PID=$!
	for i in $(seq 100); do hc "$DIR" info >/dev/null 2>&1 && break; sleep 0.2; done
	hc "$DIR" info >/dev/null || die "$label: hive did not come up; its log:"$'\n'"$(tail -20 "$DIR/hive.log")"
	for i in $(seq "$SERVICES"); do hc "$DIR" service create --name "obs-$RUN_ID-$i" --replicas 1 "$IMAGE" >/dev/null; done
	sleep 5 # let the start settle before the idle window
	pids="$HIVE_PID $(children "$HIVE_PID")"
	# shellcheck disable=SC2086
	t0=$(cpu_ticks $pids)
	sleep "$IDLE"
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $pids)
	for p in $pids; do rss=$((rss + $(rss_kb "$p" 2>/dev/null || echo 0))); done
	echo "$label $rss $(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')"
	cleanup
}

log "idle ${IDLE}s with $SERVICES services, on: defaults; off: $OFF_ENV"
# measure runs in this shell (not a subshell) so the EXIT trap cleans up
# after a failure.
res=$(mktemp "/tmp/hive-observe-res-XXXX")
trap 'cleanup; rm -f "$res"' EXIT
measure on >"$res"
# shellcheck disable=SC2086
measure off $OFF_ENV >>"$res"
read -r _ on_rss on_cpu < <(sed -n 1p "$res")
read -r _ off_rss off_cpu < <(sed -n 2p "$res")
printf '%-4s %10s %14s\n' "" "RSS" "CPU over ${IDLE}s"
printf '%-4s %10s %13ss\n' on "$(fmt_mb "$on_rss")" "$on_cpu"
printf '%-4s %10s %13ss\n' off "$(fmt_mb "$off_rss")" "$off_cpu"
printf 'ratio on/off: RSS %s, CPU %s\n' "$(ratio "$on_rss" "$off_rss")" "$(ratio "$on_cpu" "$off_cpu")"
