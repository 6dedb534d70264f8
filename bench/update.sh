#!/usr/bin/env bash
# bench/update.sh: hive's rolling-update benchmark. The wall time of a
# rolling update of 10 replicas (parallelism 2, 1 s delay) from
# hive-test/web:v1 to v2, and the requests that failed during it, next to
# `docker service update` with the same settings on the same engine in the
# same run (when swarm mode starts there); and hive's time again with
# --update-monitor 0s, since hive watches every batch for the monitor
# period where Swarm watches only the last. The table goes to stdout and to
# bench/results-update.md. See bench/README.md.
#
#   bench/update.sh                     # from the repository root, after make build testimage
#   HIVE_TEST_BIN=/path/to/hive BENCH_RUNS=5 bench/update.sh
#
# Environment:
#   HIVE_TEST_BIN  hive binary (default: bin/hive of this repository)
#   BENCH_RUNS     repetitions of each update; the median is reported (default 3)
#   BENCH_LOAD     concurrent request loops through the published port (default 2)
#
# The script only touches what it made: a hive daemon on a fresh data dir
# in a temp dir, containers of its node ID, swarm services it named, and
# swarm mode when the engine was not in swarm mode before. An EXIT trap
# undoes all of it, whether the run ends well, fails or is interrupted.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
RUNS=${BENCH_RUNS:-3}
LOAD=${BENCH_LOAD:-2}
V1=hive-test/web:v1
V2=hive-test/web:v2
REPLICAS=10
PARALLELISM=2
DELAY=1s
POLL=0.05      # seconds between polls of the engine
TIMEOUT=180    # seconds any wait may take before the run fails
RESULTS=$here/results-update.md
COMMAND="HIVE_TEST_BIN=$HIVE BENCH_RUNS=$RUNS BENCH_LOAD=$LOAD ${BASH_SOURCE[0]}${*:+ $*}"

# Keep the daemon this script starts on the defaults, whatever the
# caller's shell has set.
clear_hive_env

# ---- state the cleanup undoes ------------------------------------------

RUN_ID="$$-$(date +%s)"
TMP=""
DIR=""             # the hive daemon's data dir, while it runs
HIVE_PID=""
HIVE_NODE=""
declare -a SWARM_SVCS=()
SWARM_OURS=0       # 1 while swarm mode is on because this script turned it on
GWBRIDGE_EXISTED=1 # docker_gwbridge was there before the script began
LOAD_PIDS=()

cleanup() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +e
	log "cleaning up"
	stop_load
	if ((rc != 0)) && [[ -n $DIR && -f $DIR/hive.log ]]; then
		cp "$DIR/hive.log" "/tmp/hive-bench-update-$RUN_ID-failed.log" &&
			log "hive's log is kept in /tmp/hive-bench-update-$RUN_ID-failed.log"
	fi
	if [[ -n $DIR ]]; then
		"$HIVE" -H "unix://$DIR/hive.sock" down >/dev/null 2>&1
		kill_ours "$HIVE_PID"
	fi
	[[ -z $HIVE_NODE ]] || rm_containers "label=hive.node.id=$HIVE_NODE"
	if ((SWARM_OURS)); then
		swarm_undo "${SWARM_SVCS[@]}"
		drop_gwbridge
	fi
	[[ -z $TMP ]] || rm -rf "$TMP"
	if ((rc != 0)); then
		log "failed (exit $rc); everything this run made has been removed"
	fi
	exit "$rc"
}

trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers (the shared ones are in lib.sh) ------------------------------

# sum VALUE...: their sum.
sum() { awk '{ s += $1 } END { print s + 0 }' <<<"$(printf '%s\n' "$@")"; }

# wait_rollout WHAT FILTER...: poll until REPLICAS containers of image V2
# run and no other container of the service does.
wait_rollout() {
	local what=$1 until all new
	shift
	until=$(deadline)
	while :; do
		all=$(count --filter status=running "$@")
		new=$(count --filter status=running --filter "ancestor=$V2" "$@")
		((new < REPLICAS || all != REPLICAS)) || return 0
		if [[ -n $HIVE_PID ]] && ! kill -0 "$HIVE_PID" 2>/dev/null; then
			die "$what: the hive daemon (pid $HIVE_PID) exited; the end of $DIR/hive.log:"$'\n'"$(tail -20 "$DIR/hive.log")"
		fi
		past "$until" && die "$what: $new of $REPLICAS containers on $V2 ($all running) after ${TIMEOUT}s"
		sleep "$POLL"
	done
}

# answers PORT SECONDS: whether the port answers "<host> <version>" within SECONDS.
answers() {
	local port=$1 i
	for i in $(seq $(($2 * 10))); do
		if [[ $(curl -s -m 1 "http://127.0.0.1:$port/" 2>/dev/null) =~ ^[^[:space:]]+\ v[12]$ ]]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# start_load PORT: LOAD loops of requests through the port, each on a new
# connection (curl), every answer checked; results in $TMP/load.*.
start_load() {
	local port=$1 w
	rm -f "$TMP"/load.* "$TMP/stop"
	for w in $(seq "$LOAD"); do
		(
			while [[ ! -e $TMP/stop ]]; do
				rc=0
				body=$(curl -sS -m 5 "http://127.0.0.1:$port/" 2>&1) || rc=$?
				if ((rc == 0)) && [[ $body =~ ^[^[:space:]]+\ v[12]$ ]]; then
					echo ok
				else
					echo "fail $(date +%T.%N) curl exit $rc: ${body:0:120}"
				fi
			done >>"$TMP/load.$w"
		) &
		LOAD_PIDS+=($!)
	done
}

# stop_load: stop the loops; sets LOAD_OK, LOAD_FAILED and LOAD_FIRST (the first failure).
stop_load() {
	((${#LOAD_PIDS[@]})) || return 0
	touch "$TMP/stop"
	wait "${LOAD_PIDS[@]}" 2>/dev/null || true
	LOAD_PIDS=()
	LOAD_OK=$(cat "$TMP"/load.* 2>/dev/null | grep -c '^ok$' || true)
	LOAD_FAILED=$(cat "$TMP"/load.* 2>/dev/null | grep -c '^fail' || true)
	LOAD_FIRST=$(cat "$TMP"/load.* 2>/dev/null | grep -m1 '^fail' || true)
}

# ---- preflight ---------------------------------------------------------

[[ $# -eq 0 ]] || die "usage: [HIVE_TEST_BIN=bin/hive] [BENCH_RUNS=3] [BENCH_LOAD=2] $0 (no arguments)"
need_count BENCH_RUNS "$RUNS" runs
need_count BENCH_LOAD "$LOAD" "request loops"
need_hive
need_tools docker jq awk ss curl
need_engine "$V1" "$V2"

TMP=$(mktemp -d /tmp/hive-bench-update.XXXXXX)
printf '# hive bench: an empty config, so no hive.yaml on the search path applies\nlog: {level: info}\n' >"$TMP/hive.yaml"
SWARM_ERR=""
state=$(swarm_state)
[[ $state == inactive ]] || SWARM_ERR="the engine is already in swarm mode (state: $state); this script leaves it alone"
docker network inspect docker_gwbridge >/dev/null 2>&1 || GWBRIDGE_EXISTED=0
log "hive $HIVE, $RUNS runs, $LOAD request loops, temp dir $TMP"

# ---- hive ----------------------------------------------------------------

DIR=$TMP/hive
out=$("$HIVE" up -d --config "$TMP/hive.yaml" --data-dir "$DIR" -H "unix://$DIR/hive.sock" \
	--listen-addr "127.0.0.1:$(free_port)" 2>&1) || die "hive up -d failed:"$'\n'"$out"
HIVE_PID=$(hc "$DIR" info --format json | jq -r .pid)
until=$(deadline)
until hc "$DIR" info --format json 2>/dev/null | jq -e '.leader == true' >/dev/null; do
	past "$until" && die "hive did not become leader; its log: $DIR/hive.log"
	sleep "$POLL"
done
HIVE_NODE=$(hc "$DIR" info --format json | jq -r .node_id)

# hive_runs TAG ARGS...: RUNS updates of fresh services with the extra
# update flags ARGS; times and request counts go to the arrays TAG_MS,
# TAG_FAIL and TAG_OK, the first failure seen to TAG_FIRST.
hive_runs() {
	local tag=$1 i name port t t0 out
	shift
	local -n ms_=${tag}_MS fail_=${tag}_FAIL ok_=${tag}_OK first_=${tag}_FIRST
	for i in $(seq "$RUNS"); do
		name=bup-$RUN_ID-$tag-$i
		port=$(free_port)
		filter=(--filter "label=hive.node.id=$HIVE_NODE" --filter "label=hive.service.name=$name")
		out=$(hc "$DIR" service create -d --name "$name" --replicas "$REPLICAS" -p "$port:80" "$V1" 2>&1) ||
			die "hive service create $name failed:"$'\n'"$out"
		wait_running "hive service $name" "${filter[@]}"
		answers "$port" 20 || die "hive service $name does not answer on port $port"
		start_load "$port"
		sleep 1
		t0=$(now)
		out=$(hc "$DIR" service update -d --image "$V2" --update-parallelism "$PARALLELISM" --update-delay "$DELAY" "$@" "$name" 2>&1) ||
			die "hive service update $name failed:"$'\n'"$out"
		wait_rollout "hive service $name" "${filter[@]}"
		t=$(ms "$t0" "$(now)")
		sleep 1
		stop_load
		ms_+=("$t") fail_+=("$LOAD_FAILED") ok_+=("$LOAD_OK")
		[[ -n $first_ || -z $LOAD_FIRST ]] || first_=$LOAD_FIRST
		if ((LOAD_FAILED > 0)); then
			# Keep what hive said, for whoever looks into the failures.
			KEPT_LOGS+=("/tmp/hive-bench-update-$RUN_ID-$tag-$i.log")
			cp "$DIR/hive.log" "${KEPT_LOGS[-1]}"
			cat "$TMP"/load.* | grep '^fail' >>"${KEPT_LOGS[-1]}" || true
			log "requests failed: hive's log and the failures are in ${KEPT_LOGS[-1]}"
		fi
		log "hive run $i${*:+ ($*)}: update took $(fmt_ms "$t"); $LOAD_OK requests answered, $LOAD_FAILED failed"
		out=$(hc "$DIR" service rm "$name" 2>&1) || die "hive service rm $name failed:"$'\n'"$out"
		wait_gone "hive service $name" "${filter[@]}"
	done
}

declare -a H_MS=() H_FAIL=() H_OK=() H0_MS=() H0_FAIL=() H0_OK=() KEPT_LOGS=()
H_FIRST="" H0_FIRST=""
hive_runs H
# The same with no monitoring between batches: hive watches each batch for
# --update-monitor (5s) before the next, Swarm only after the last.
hive_runs H0 --update-monitor 0s
hc "$DIR" down >/dev/null 2>&1 || die "hive down failed"
for _ in $(seq 100); do
	kill -0 "$HIVE_PID" 2>/dev/null || break
	sleep 0.05
done
kill_ours "$HIVE_PID"
DIR="" HIVE_PID=""

# ---- swarm ---------------------------------------------------------------

declare -a S_MS=() S_FAIL=() S_OK=()
S_FIRST="" S_LOAD_ERR=""
if [[ -z $SWARM_ERR ]]; then
	SWARM_OURS=1
	if ! out=$(docker swarm init --advertise-addr 127.0.0.1 2>&1); then
		SWARM_ERR="docker swarm init --advertise-addr 127.0.0.1 failed: ${out//$'\n'/ }"
	fi
fi
if [[ -z $SWARM_ERR ]]; then
	for i in $(seq "$RUNS"); do
		name=bup-$RUN_ID-swarm-$i
		port=$(free_port)
		filter=(--filter "label=com.docker.swarm.service.name=$name")
		SWARM_SVCS+=("$name")
		# With no registry the engine cannot pin the image's digest; it
		# says so on stderr and goes on with the local image.
		out=$(docker service create -d --name "$name" --replicas "$REPLICAS" -p "$port:80" "$V1" 2>&1) ||
			die "docker service create $name failed:"$'\n'"$out"
		wait_running "swarm service $name" "${filter[@]}"
		load=1
		if [[ -n $S_LOAD_ERR ]] || ! answers "$port" 20; then
			load=0
			S_LOAD_ERR="swarm's routing mesh did not answer on published port $port within 20 s on this engine (it needs the kernel's IPVS, $(if [[ -e /proc/net/ip_vs ]]; then echo present; else echo "absent here: no /proc/net/ip_vs"; fi)), so no request could be sent through it"
		fi
		((load)) && start_load "$port" && sleep 1
		t0=$(now)
		out=$(docker service update -d --image "$V2" --update-parallelism "$PARALLELISM" --update-delay "$DELAY" "$name" 2>&1) ||
			die "docker service update $name failed:"$'\n'"$out"
		wait_rollout "swarm service $name" "${filter[@]}"
		t=$(ms "$t0" "$(now)")
		S_MS+=("$t")
		if ((load)); then
			sleep 1
			stop_load
			S_FAIL+=("$LOAD_FAILED") S_OK+=("$LOAD_OK")
			[[ -n $S_FIRST || -z $LOAD_FIRST ]] || S_FIRST=$LOAD_FIRST
			log "swarm run $i: update took $(fmt_ms "$t"); $LOAD_OK requests answered, $LOAD_FAILED failed"
		else
			log "swarm run $i: update took $(fmt_ms "$t") (no load: $S_LOAD_ERR)"
		fi
		docker service rm "$name" >/dev/null || die "docker service rm $name failed"
		wait_gone "swarm service $name" "${filter[@]}"
	done
	swarm_leave
	drop_gwbridge
fi

# ---- report ----------------------------------------------------------------

read -r h_med h_min h_max <<<"$(stats "${H_MS[@]}")"
read -r h0_med h0_min h0_max <<<"$(stats "${H0_MS[@]}")"
s_med="" s_cell="n/a" s_fail="n/a"
if ((${#S_MS[@]})); then
	read -r s_med s_min s_max <<<"$(stats "${S_MS[@]}")"
	s_cell=$(fmt_ms "$s_med")
fi
((${#S_FAIL[@]})) && s_fail="$(sum "${S_FAIL[@]}") of $(($(sum "${S_FAIL[@]}") + $(sum "${S_OK[@]}")))"
h_fail="$(sum "${H_FAIL[@]}" "${H0_FAIL[@]}") of $(($(sum "${H_FAIL[@]}" "${H0_FAIL[@]}") + $(sum "${H_OK[@]}" "${H0_OK[@]}")))"

table() {
	echo "| benchmark | hive | baseline | ratio |"
	echo "|---|---|---|---|"
	echo "| (u) rolling update of $REPLICAS replicas $V1 → $V2, parallelism $PARALLELISM, delay $DELAY, until all run $V2, vs \`docker service update\` (Swarm) | $(fmt_ms "$h_med") | $s_cell | $(ratio "$h_med" "${s_med:-0}") |"
	echo "| (u′) the same with \`--update-monitor 0s\` for hive (no watch between batches; Swarm watches only after the last) | $(fmt_ms "$h0_med") | $s_cell | $(ratio "$h0_med" "${s_med:-0}") |"
	echo "| (u″) requests failed during the updates ($LOAD loops through the published port, all runs of both) | $h_fail | $s_fail | — |"
}

details() {
	echo "Each time is the median of $RUNS run(s); min–max:"
	echo
	echo "- hive: $(range_ms "$h_min" "$h_max"); requests answered per run: ${H_OK[*]}; failed per run: ${H_FAIL[*]}${H_FIRST:+; first failure: \`$H_FIRST\`}"
	echo "- hive, \`--update-monitor 0s\`: $(range_ms "$h0_min" "$h0_max"); requests answered per run: ${H0_OK[*]}; failed per run: ${H0_FAIL[*]}${H0_FIRST:+; first failure: \`$H0_FIRST\`}"
	if [[ -n $s_med ]]; then
		echo "- \`docker service update\`: $(range_ms "$s_min" "$s_max")${S_OK[*]:+; requests answered per run: ${S_OK[*]}; failed per run: ${S_FAIL[*]}}${S_FIRST:+; first failure: \`$S_FIRST\`}"
	fi
	((${#KEPT_LOGS[@]} == 0)) || echo "- hive's log of each run with failed requests: ${KEPT_LOGS[*]}"
	[[ -z $S_LOAD_ERR ]] || echo "- swarm requests not measured: $S_LOAD_ERR"
	[[ -z $SWARM_ERR ]] || echo "- swarm baseline not measured: $SWARM_ERR"
}

report=$(
	report_head "hive rolling-update benchmark results"
	echo "- command: \`$COMMAND\`"
	echo
	table
	echo
	details
)
publish "$report"
