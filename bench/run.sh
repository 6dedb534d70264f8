#!/usr/bin/env bash
# bench/run.sh: hive's end-to-end benchmarks. Each hive figure is measured
# next to a Docker baseline in the same run on the same machine, and the
# table goes to stdout and to bench/results.md. See bench/README.md.
#
#   bench/run.sh                      # from the repository root, after make build testimage
#   HIVE_TEST_BIN=/path/to/hive BENCH_RUNS=9 bench/run.sh
#
# Environment:
#   HIVE_TEST_BIN  hive binary (default: bin/hive of this repository)
#   BENCH_RUNS     repetitions of each timing; the median is reported (default 5)
#   BENCH_IDLE     seconds to stay idle before reading memory (default 10)
#
# The script only touches what it made: hive daemons on fresh data dirs in
# a temp dir, containers of their node IDs, containers labelled with its run
# ID, and swarm mode when the engine was not in swarm mode before. An EXIT
# trap undoes all of it, whether the run ends well, fails or is interrupted.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
RUNS=${BENCH_RUNS:-5}
IDLE=${BENCH_IDLE:-10}
IMAGE=hive-test/web:v1
REPLICAS=10
POLL=0.02          # seconds between polls of the engine
TIMEOUT=120        # seconds any wait may take before the run fails
RESULTS=$here/results.md
COMMAND="HIVE_TEST_BIN=$HIVE BENCH_RUNS=$RUNS BENCH_IDLE=$IDLE ${BASH_SOURCE[0]}${*:+ $*}"

# Keep the daemons this script starts on the defaults, whatever the
# caller's shell has set.
clear_hive_env

# ---- state the cleanup undoes ------------------------------------------

RUN_ID="$$-$(date +%s)"
TMP=""
declare -a SOCKS=()    # sockets of hive daemons this script started
declare -a PIDS=()     # their daemon PIDs
declare -a NODES=()    # node IDs they created (their containers carry hive.node.id)
declare -a SWARM_SVCS=()
SWARM_OURS=0           # 1 while swarm mode is on because this script turned it on
GWBRIDGE_EXISTED=1     # docker_gwbridge was there before the script began
HIVE_PID=""            # the daemon started last, and its node ID
HIVE_NODE=""
WATCH_DIR=""           # when set, waits fail at once if HIVE_PID (data dir WATCH_DIR) dies

cleanup() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +e
	log "cleaning up"
	local i sock pid
	for i in "${!SOCKS[@]}"; do
		sock=${SOCKS[$i]}
		pid=${PIDS[$i]:-}
		"$HIVE" -H "unix://$sock" down >/dev/null 2>&1
		kill_ours "$pid"
	done
	local node
	for node in "${NODES[@]}"; do
		rm_containers "label=hive.node.id=$node"
	done
	rm_containers "label=hive.bench.run=$RUN_ID"
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

# ---- hive --------------------------------------------------------------

# hive_up DIR: start hive on DIR (a fresh data dir hive creates, its socket
# inside); sets UP_MS to the wall time of 'hive up -d', UP_T0 to when it
# began and HIVE_PID to the daemon, which the cleanup then knows of.
hive_up() {
	local dir=$1 t0 t1 out
	t0=$(now)
	if ! out=$("$HIVE" up -d --config "$TMP/hive.yaml" --data-dir "$dir" -H "unix://$dir/hive.sock" \
		--listen-addr "127.0.0.1:$PORT" 2>&1); then
		die "hive up -d on $dir failed:"$'\n'"$out"
	fi
	t1=$(now)
	SOCKS+=("$dir/hive.sock")
	UP_MS=$(ms "$t0" "$t1")
	UP_T0=$t0
	HIVE_PID=$(hc "$dir" info --format json | jq -r .pid) || die "hive info on $dir failed right after hive up -d"
	[[ $HIVE_PID =~ ^[0-9]+$ ]] || die "hive info on $dir gave no pid"
	PIDS+=("$HIVE_PID")
}

# hive_ready DIR: the node leads its cluster and every plugin runs.
hive_ready() {
	local info plugins
	info=$(hc "$1" info --format json 2>/dev/null) || return 1
	plugins=$(hc "$1" plugin ls --format json 2>/dev/null) || return 1
	jq -e '.leader == true and .nodes >= 1' <<<"$info" >/dev/null &&
		jq -e 'length > 0 and all(.[]; .state == "running")' <<<"$plugins" >/dev/null
}

# wait_ready DIR: poll until hive_ready; records the node ID.
wait_ready() {
	local dir=$1 until
	until=$(deadline)
	until hive_ready "$dir"; do
		past "$until" && die "hive on $dir not ready (leader + plugins running) after ${TIMEOUT}s; its log: $dir/hive.log"$'\n'"$(tail -20 "$dir/hive.log")"
		sleep "$POLL"
	done
	HIVE_NODE=$(hc "$dir" info --format json | jq -r .node_id)
	[[ -n $HIVE_NODE && $HIVE_NODE != null ]] || die "hive info gave no node_id"
	NODES+=("$HIVE_NODE")
}

# hive_down DIR: stop the daemon on DIR and check it and its plugins are gone.
hive_down() {
	local dir=$1 out i kids p
	kids=$(children "$HIVE_PID")
	out=$(hc "$dir" down 2>&1) || die "hive down on $dir failed:"$'\n'"$out"
	for p in $HIVE_PID $kids; do
		for i in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$p" 2>/dev/null && die "process $p of hive on $dir still runs 5s after hive down"
	done
	for i in "${!SOCKS[@]}"; do
		if [[ ${SOCKS[$i]} == "$dir/hive.sock" ]]; then
			unset 'SOCKS[i]' 'PIDS[i]'
		fi
	done
}

# ---- swarm -------------------------------------------------------------

# swarm_init: turn swarm mode on and set INIT_MS to the wall time of
# 'docker swarm init'; if it fails, set SWARM_ERR to why and return 1.
swarm_init() {
	local t0 t1 out
	SWARM_OURS=1
	t0=$(now)
	if ! out=$(docker swarm init --advertise-addr 127.0.0.1 2>&1); then
		out=${out%$'\n'}
		SWARM_ERR="docker swarm init --advertise-addr 127.0.0.1 failed: ${out//$'\n'/ }"
		swarm_leave
		return 1
	fi
	t1=$(now)
	INIT_MS=$(ms "$t0" "$t1")
}

# ---- preflight ---------------------------------------------------------

[[ $# -eq 0 ]] || die "usage: [HIVE_TEST_BIN=bin/hive] [BENCH_RUNS=5] [BENCH_IDLE=10] $0 (no arguments)"
need_count BENCH_RUNS "$RUNS" runs
[[ $IDLE =~ ^[0-9]+$ ]] || die "BENCH_IDLE=$IDLE: want a number of seconds"
need_hive
need_tools docker jq awk ss
need_ns_date
need_engine "$IMAGE"
DOCKERD_PID=$(pidof dockerd || true)
[[ $DOCKERD_PID =~ ^[0-9]+$ ]] || die "found no single local dockerd process (got '$DOCKERD_PID'): the memory baseline needs it"

TMP=$(mktemp -d /tmp/hive-bench.XXXXXX)
printf '# hive bench: an empty config, so no hive.yaml on the search path applies\nlog: {level: info}\n' >"$TMP/hive.yaml"
PORT=$(free_port "hive's --listen-addr")

SWARM_ERR=""
state=$(swarm_state)
if [[ $state != inactive ]]; then
	SWARM_ERR="the engine is already in swarm mode (state: $state); this script leaves it alone"
fi
docker network inspect docker_gwbridge >/dev/null 2>&1 || GWBRIDGE_EXISTED=0

log "hive $HIVE, $RUNS runs per timing, temp dir $TMP, cluster port 127.0.0.1:$PORT"

# ---- (a) start-up ------------------------------------------------------

declare -a A_UP=() A_READY=() A_SWARM=()
for i in $(seq "$RUNS"); do
	dir=$TMP/a$i
	hive_up "$dir"
	until=$(deadline)
	until hive_ready "$dir"; do
		past "$until" && die "hive on $dir not ready after ${TIMEOUT}s; see $dir/hive.log"
		sleep "$POLL"
	done
	ready=$(ms "$UP_T0" "$(now)")
	A_UP+=("$UP_MS")
	A_READY+=("$ready")
	log "(a) run $i: hive up -d returned in $(fmt_ms "$UP_MS"), ready in $(fmt_ms "$ready")"
	hive_down "$dir"
done

if [[ -z $SWARM_ERR ]]; then
	for i in $(seq "$RUNS"); do
		swarm_init || break
		A_SWARM+=("$INIT_MS")
		log "(a) run $i: docker swarm init took $(fmt_ms "$INIT_MS")"
		swarm_leave
	done
fi

# ---- (b) idle memory, swarm side ---------------------------------------

B_SWARM=""
if [[ -z $SWARM_ERR ]]; then
	sleep 2
	before=$(pss_kb "$DOCKERD_PID")
	if swarm_init; then
		log "(b) swarm mode on; idle for ${IDLE}s"
		sleep "$IDLE"
		after=$(pss_kb "$DOCKERD_PID")
		B_SWARM=$((after - before))
		B_SWARM_DETAIL="dockerd PSS $(fmt_mb "$before") before docker swarm init, $(fmt_mb "$after") ${IDLE} s after"
		log "(b) $B_SWARM_DETAIL"
		swarm_leave
	fi
fi

# ---- (b) idle memory and (c) create 10, hive side ------------------------

dir=$TMP/c
hive_up "$dir"
wait_ready "$dir"
log "(b) hive ready (node $HIVE_NODE); idle for ${IDLE}s"
sleep "$IDLE"
plugin_pids=$(hc "$dir" plugin ls --format json | jq -r '.[].pid // empty')
[[ -n $plugin_pids ]] || plugin_pids=$(children "$HIVE_PID")
[[ -n $plugin_pids ]] || die "found no plugin processes of hive (pid $HIVE_PID)"
B_HIVE=0 B_PSS=0 B_ANON=0 B_PARTS=""
for p in $HIVE_PID $plugin_pids; do
	r=$(rss_kb "$p") || die "process $p of hive is gone"
	B_HIVE=$((B_HIVE + r))
	B_PSS=$((B_PSS + $(pss_kb "$p")))
	B_ANON=$((B_ANON + $(anon_kb "$p")))
	if [[ $p == "$HIVE_PID" ]]; then name="hive daemon"; else name=$(tr '\0' '\n' </proc/"$p"/cmdline | tail -1); fi
	B_PARTS+="${B_PARTS:+, }$name $(fmt_mb "$r")"
done
log "(b) hive + plugins: VmRSS $(fmt_mb "$B_HIVE") ($B_PARTS), PSS $(fmt_mb "$B_PSS"), RssAnon $(fmt_mb "$B_ANON")"

declare -a C_HIVE=() C_BASE=() D_SWARM=() E_HIVE=() E_SWARM=()
WATCH_DIR=$dir
# hive_create NAME ARGS...: time `hive service create` of NAME until its
# replicas run, then remove it; prints the milliseconds.
hive_create() {
	local name=$1 out t0 t
	shift
	local filter=(--filter "label=hive.node.id=$HIVE_NODE" --filter "label=hive.service.name=$name")
	t0=$(now)
	out=$(hc "$dir" service create -d --name "$name" --replicas "$REPLICAS" "$@" "$IMAGE" 2>&1) ||
		die "hive service create $name failed:"$'\n'"$out"
	wait_running "hive service $name" "${filter[@]}"
	t=$(ms "$t0" "$(now)")
	out=$(hc "$dir" service rm "$name" 2>&1) || die "hive service rm $name failed:"$'\n'"$out"
	wait_gone "hive service $name" "${filter[@]}"
	echo "$t"
}
for i in $(seq "$RUNS"); do
	t=$(hive_create "bench-$RUN_ID-$i")
	C_HIVE+=("$t")
	log "(c) run $i: hive ran $REPLICAS replicas in $(fmt_ms "$t")"
done
# (e): the same with a secret: every task waits for the value, then gets
# its own tmpfs.
out=$(head -c 32 /dev/urandom | base64 | hc "$dir" secret create "bench-$RUN_ID" - 2>&1) ||
	die "hive secret create failed:"$'\n'"$out"
for i in $(seq "$RUNS"); do
	t=$(hive_create "bench-$RUN_ID-secret-$i" --secret "bench-$RUN_ID")
	E_HIVE+=("$t")
	log "(e) run $i: hive ran $REPLICAS replicas with a secret in $(fmt_ms "$t")"
done
WATCH_DIR=""
hive_down "$dir"

# ---- (c) baseline: docker run x10 ----------------------------------------

for i in $(seq "$RUNS"); do
	t0=$(now)
	for r in $(seq "$REPLICAS"); do
		docker run -d --label hive.bench=1 --label "hive.bench.run=$RUN_ID" "$IMAGE" >/dev/null ||
			die "docker run -d $IMAGE failed"
	done
	t=$(ms "$t0" "$(now)")
	n=$(count --filter status=running --filter "label=hive.bench.run=$RUN_ID")
	((n == REPLICAS)) || die "docker run: $n of $REPLICAS containers running after the loop"
	C_BASE+=("$t")
	log "(c) run $i: $REPLICAS x docker run -d took $(fmt_ms "$t")"
	docker rm -f $(docker ps -aq --filter "label=hive.bench.run=$RUN_ID") >/dev/null
done

# ---- (d) vs Swarm ----------------------------------------------------------

# swarm_create NAME ARGS...: time `docker service create` of NAME until
# its replicas run, then remove it; prints the milliseconds. It runs in a
# command substitution: the caller records NAME in SWARM_SVCS first.
swarm_create() {
	local name=$1 out t0 t
	shift
	local filter=(--filter "label=com.docker.swarm.service.name=$name")
	t0=$(now)
	# With no registry the engine cannot pin the image's digest; it says
	# so on stderr and goes on with the local image.
	out=$(docker service create -d --replicas "$REPLICAS" --name "$name" "$@" "$IMAGE" 2>&1) ||
		die "docker service create $name failed:"$'\n'"$out"
	wait_running "swarm service $name" "${filter[@]}"
	t=$(ms "$t0" "$(now)")
	docker service rm "$name" >/dev/null || die "docker service rm $name failed"
	wait_gone "swarm service $name" "${filter[@]}"
	echo "$t"
}
if [[ -z $SWARM_ERR ]] && swarm_init; then
	for i in $(seq "$RUNS"); do
		SWARM_SVCS+=("bench-$RUN_ID-swarm-$i")
		t=$(swarm_create "bench-$RUN_ID-swarm-$i")
		D_SWARM+=("$t")
		log "(d) run $i: swarm ran $REPLICAS replicas in $(fmt_ms "$t")"
	done
	out=$(head -c 32 /dev/urandom | base64 | docker secret create "bench-$RUN_ID" - 2>&1) ||
		die "docker secret create failed:"$'\n'"$out"
	for i in $(seq "$RUNS"); do
		SWARM_SVCS+=("bench-$RUN_ID-swarm-secret-$i")
		t=$(swarm_create "bench-$RUN_ID-swarm-secret-$i" --secret "bench-$RUN_ID")
		E_SWARM+=("$t")
		log "(e) run $i: swarm ran $REPLICAS replicas with a secret in $(fmt_ms "$t")"
	done
	swarm_leave
	drop_gwbridge
fi

# ---- report ----------------------------------------------------------------

read -r a_med a_min a_max <<<"$(stats "${A_UP[@]}")"
read -r r_med r_min r_max <<<"$(stats "${A_READY[@]}")"
read -r c_med c_min c_max <<<"$(stats "${C_HIVE[@]}")"
read -r cb_med cb_min cb_max <<<"$(stats "${C_BASE[@]}")"
as_med="" d_med=""
if ((${#A_SWARM[@]})); then read -r as_med as_min as_max <<<"$(stats "${A_SWARM[@]}")"; fi
if ((${#D_SWARM[@]})); then read -r d_med d_min d_max <<<"$(stats "${D_SWARM[@]}")"; fi
read -r e_med e_min e_max <<<"$(stats "${E_HIVE[@]}")"
es_med=""
if ((${#E_SWARM[@]})); then read -r es_med es_min es_max <<<"$(stats "${E_SWARM[@]}")"; fi

cell() { if [[ -n $1 ]]; then "$2" "$1"; else echo "n/a"; fi; }
c_ratio=$(ratio "$c_med" "$cb_med")

table() {
	echo "| benchmark | hive | baseline | ratio | goal |"
	echo "|---|---|---|---|---|"
	echo "| (a) start-up: \`hive up -d\` returns (API answers) vs \`docker swarm init\` | $(fmt_ms "$a_med") | $(cell "$as_med" fmt_ms) | $(ratio "$a_med" "${as_med:-0}") | < 1 s: $(met "$(below "$a_med" 1000)") |"
	echo "| (a) start-up until ready (leader, plugins running) vs \`docker swarm init\` | $(fmt_ms "$r_med") | $(cell "$as_med" fmt_ms) | $(ratio "$r_med" "${as_med:-0}") | — |"
	echo "| (b) idle memory: hive + plugins PSS vs dockerd's growth in swarm mode | $(fmt_mb "$B_PSS") | $(cell "$B_SWARM" fmt_mb) | $(ratio "$B_PSS" "${B_SWARM:-0}") | < 60 MB: $(met "$(below $((B_PSS * 1024)) 60000000)") |"
	echo "| (c) create $REPLICAS replicas until running vs $REPLICAS sequential \`docker run -d\` | $(fmt_ms "$c_med") | $(fmt_ms "$cb_med") | $c_ratio | ≤ 1.2: $(met "$(awk -v x="$c_ratio" 'BEGIN { print (x <= 1.2) }')") |"
	echo "| (d) create $REPLICAS replicas until running vs \`docker service create\` (Swarm) | $(fmt_ms "$c_med") | $(cell "$d_med" fmt_ms) | $(ratio "$c_med" "${d_med:-0}") | — |"
	echo "| (e) create $REPLICAS replicas with a secret until running vs the same in Swarm | $(fmt_ms "$e_med") | $(cell "$es_med" fmt_ms) | $(ratio "$e_med" "${es_med:-0}") | — |"
	echo "| (e′) the same vs hive without a secret, (c) | $(fmt_ms "$e_med") | $(fmt_ms "$c_med") | $(ratio "$e_med" "$c_med") | — |"
}

details() {
	echo "Each figure is the median of $RUNS run(s); min–max:"
	echo
	echo "- (a) \`hive up -d\`: $(range_ms "$a_min" "$a_max"); until ready: $(range_ms "$r_min" "$r_max"); \`docker swarm init\`: $(if [[ -n $as_med ]]; then range_ms "$as_min" "$as_max"; else echo "n/a"; fi)"
	echo "- (b) hive, ${IDLE} s idle: PSS $(fmt_mb "$B_PSS") in all; VmRSS $B_PARTS, summed $(fmt_mb "$B_HIVE") (the three processes run one binary, whose pages the kernel maps whole and shares: VmRSS counts them once per process, PSS once in all); RssAnon, private memory only: $(fmt_mb "$B_ANON"); swarm: ${B_SWARM_DETAIL:-n/a}"
	echo "- (c) hive: $(range_ms "$c_min" "$c_max"); \`docker run\` x$REPLICAS: $(range_ms "$cb_min" "$cb_max")"
	echo "- (d) \`docker service create\`: $(if [[ -n $d_med ]]; then range_ms "$d_min" "$d_max"; else echo "n/a"; fi)"
	echo "- (e) hive with a secret: $(range_ms "$e_min" "$e_max"); Swarm with a secret: $(if [[ -n $es_med ]]; then range_ms "$es_min" "$es_max"; else echo "n/a"; fi)"
	if [[ -n $SWARM_ERR ]]; then
		echo "- swarm baselines not measured: $SWARM_ERR"
	fi
}

if [[ -n $SWARM_ERR ]]; then
	log "swarm baselines not measured: $SWARM_ERR"
fi
report=$(
	report_head "hive benchmark results"
	echo "- command: \`$COMMAND\`"
	echo
	table
	echo
	details
)
publish "$report"
