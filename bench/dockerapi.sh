#!/usr/bin/env bash
# bench/dockerapi.sh: hive's Docker API benchmark. `docker service create
# -d --replicas 10` through the Docker Engine API hive serves on its
# docker.sock, until the 10 containers run, next to the same command
# against the engine in swarm mode (when it starts there) and next to
# `hive service create -d --replicas 10`, hive's own CLI; and, with 100
# services, the latency of `docker service ls` and of the API call it
# makes (GET /services?status=true), p50 and p99, against hive and
# against Swarm. The table goes to stdout and to bench/results-dockerapi.md.
# See bench/README.md and docs/docker-api.md.
#
#   bench/dockerapi.sh                 # from the repository root, after make build testimage
#   HIVE_TEST_BIN=/path/to/hive BENCH_RUNS=9 bench/dockerapi.sh
#
# Environment:
#   HIVE_TEST_BIN   hive binary (default: bin/hive of this repository)
#   BENCH_RUNS      creates of 10 replicas on each side; the median is reported (default 5)
#   BENCH_CALLS     timed `docker service ls` calls on each side (default 50)
#   BENCH_REQUESTS  timed GET /services?status=true on each side (default 200)
#
# The script only touches what it made: a hive daemon on a fresh data dir
# in a temp dir and the containers of its node ID, the swarm services it
# named (bda-<run ID>-...), swarm mode when the engine was not in swarm
# mode before, and a docker CLI config dir of its own in the temp dir. An
# EXIT trap undoes all of it, whether the run ends well, fails or is
# interrupted.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=dockerapi-bench
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
RUNS=${BENCH_RUNS:-5}
CALLS=${BENCH_CALLS:-50}
REQUESTS=${BENCH_REQUESTS:-200}
IMAGE=hive-test/web:v1
REPLICAS=10     # replicas of each create (d1)
SERVICES=100    # services listed (d2), with 0 replicas each
HIVE_API=1.44   # the API version hive advertises, in the raw requests to it
ENGINE_API=1.41 # the engine's (Docker 20.10), in the raw requests to it
POLL=0.02       # seconds between polls of the engine
TIMEOUT=120     # seconds any wait may take before the run fails
CLI_TIMEOUT=30  # seconds one hive CLI call may take
RESULTS=$here/results-dockerapi.md
COMMAND="HIVE_TEST_BIN=$HIVE BENCH_RUNS=$RUNS BENCH_CALLS=$CALLS BENCH_REQUESTS=$REQUESTS ${BASH_SOURCE[0]}${*:+ $*}"

# Keep the daemon this script starts on the defaults, whatever the
# caller's shell has set.
clear_hive_env

# ---- state the cleanup undoes ------------------------------------------

RUN_ID="$$-$(date +%s)"
PREFIX=bda-$RUN_ID # every service this run creates, on either side
TMP=""
DIR=""             # the hive daemon's data dir, while it runs
HIVE_PID=""
HIVE_NODE=""
DP_H=""            # hive's VXLAN port
SWARM_OURS=0       # 1 while swarm mode is on because this script turned it on
GWBRIDGE_EXISTED=1 # docker_gwbridge was there before the script began
declare -a SWARM_SVCS=()
RAW_LABEL=hive-bench.dockerapi # the raw docker runs' containers: RAW_LABEL=PREFIX-RAW-N
# lib.sh's node table, for started, wait_leader and stop_node (which read
# and write it all).
# shellcheck disable=SC2034
declare -a DIRS=() NODES=()
# shellcheck disable=SC2034
declare -A PID=() EXE=() NODE=() ADDR=()

cleanup() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +e
	log "cleaning up"
	local link c
	if ((rc != 0)) && [[ -n $DIR && -f $DIR/hive.log ]]; then
		cp "$DIR/hive.log" "/tmp/hive-bench-dockerapi-$RUN_ID-failed.log" &&
			log "hive's log is kept in /tmp/hive-bench-dockerapi-$RUN_ID-failed.log"
	fi
	[[ -z $DIR ]] || stop_node "$DIR"
	[[ -z $HIVE_NODE ]] || rm_containers "label=hive.node.id=$HIVE_NODE"
	for c in $(docker ps -aq --filter "label=$RAW_LABEL"); do
		[[ $(docker inspect -f "{{index .Config.Labels \"$RAW_LABEL\"}}" "$c" 2>/dev/null) == "$PREFIX"-* ]] &&
			docker rm -f "$c" >/dev/null
	done
	for link in $(own_vxlan "$DP_H"); do
		log "removing the VXLAN device $link hive left in the host's namespace"
		ip link delete "$link"
	done
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

# dh ARGS...: the docker CLI against hive's Docker API. Every other docker
# call of the script goes to the engine.
dh() { DOCKER_HOST=$DAPI docker "$@"; }

# create TAG NAME: create a service NAME of REPLICAS replicas of IMAGE, by
# TAG's client (DAPI: docker through hive's Docker API, CLI: hive's own
# CLI, SW: docker against the engine in swarm mode), timed until its
# REPLICAS containers run per the engine; then remove it and wait (not
# timed) until its containers are gone. The times go to TAG_MS (until
# running) and TAG_RET (until the create returned). Not in a subshell: it
# adds to SWARM_SVCS, which the cleanup reads.
create() {
	local tag=$1 name=$2 t0 ret t out filter=()
	local -n ms_=${tag}_MS ret_=${tag}_RET
	case $tag in
	DAPI | CLI) filter=(--filter "label=hive.node.id=$HIVE_NODE" --filter "label=hive.service.name=$name") ;;
	SW)
		filter=(--filter "label=com.docker.swarm.service.name=$name")
		SWARM_SVCS+=("$name")
		;;
	RAW) filter=(--filter "label=$RAW_LABEL=$name") ;;
	esac
	t0=$(now)
	case $tag in
	RAW) out=$(raw_run "$name" 2>&1) ;;
	DAPI) out=$(dh service create -d --no-resolve-image --replicas "$REPLICAS" --name "$name" "$IMAGE" 2>&1) ;;
	CLI) out=$(hc "$DIR" service create -d --replicas "$REPLICAS" --name "$name" "$IMAGE" 2>&1) ;;
	SW) out=$(docker service create -d --no-resolve-image --replicas "$REPLICAS" --name "$name" "$IMAGE" 2>&1) ;;
	esac || die "$tag: service create $name failed:"$'\n'"$out"
	ret=$(ms "$t0" "$(now)")
	wait_running "$tag service $name" "${filter[@]}"
	t=$(ms "$t0" "$(now)")
	ms_+=("$t") ret_+=("$ret")
	case $tag in
	RAW) out=$(rm_containers "label=$RAW_LABEL=$name" 2>&1) ;;
	DAPI) out=$(dh service rm "$name" 2>&1) ;;
	CLI) out=$(hc "$DIR" service rm "$name" 2>&1) ;;
	SW) out=$(docker service rm "$name" 2>&1) ;;
	esac || die "$tag: service rm $name failed:"$'\n'"$out"
	wait_gone "$tag service $name" "${filter[@]}"
	log "(d1) $tag $name: create returned after $(fmt_ms "$ret"), $REPLICAS containers ran after $(fmt_ms "$t")"
}

# raw_run NAME: REPLICAS `docker run -d` of IMAGE at once, labelled
# RAW_LABEL=NAME: the engine starting the containers with no orchestrator,
# the floor under every create of (d1).
raw_run() {
	local k pids=() rc=0
	for k in $(seq "$REPLICAS"); do
		docker run -d --label "$RAW_LABEL=$1" --name "$1-$k" "$IMAGE" >/dev/null &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || rc=1; done
	return "$rc"
}

# populate TAG: create SERVICES services of 0 replicas by TAG's docker
# (DAPI or SW); sets TAG_POP to the ms it took in all.
populate() {
	local tag=$1 k name t0 out
	t0=$(now)
	for k in $(seq "$SERVICES"); do
		name=$PREFIX-ls-$k
		if [[ $tag == DAPI ]]; then
			out=$(dh service create -d --no-resolve-image --replicas 0 --name "$name" "$IMAGE" 2>&1)
		else
			SWARM_SVCS+=("$name")
			out=$(docker service create -d --no-resolve-image --replicas 0 --name "$name" "$IMAGE" 2>&1)
		fi || die "$tag: service create $name failed:"$'\n'"$out"
	done
	printf -v "${tag}_POP" %s "$(ms "$t0" "$(now)")"
}

# listed TAG: how many lines (services) `docker service ls -q` gives by TAG's docker.
listed() {
	local out
	if [[ $1 == DAPI ]]; then out=$(dh service ls -q); else out=$(docker service ls -q); fi ||
		die "$1: docker service ls -q failed"
	grep -c . <<<"$out" || true
}

# ls_call TAG: one `docker service ls` by TAG's docker, its wall time
# appended to TAG_LS.
ls_call() {
	local tag=$1 t0 out
	local -n ls_=${tag}_LS
	t0=$(now)
	if [[ $tag == DAPI ]]; then out=$(dh service ls 2>&1); else out=$(docker service ls 2>&1); fi ||
		die "$tag: docker service ls failed:"$'\n'"$out"
	ls_+=("$(ms "$t0" "$(now)")")
}

# api_call TAG: one GET /vN/services?status=true with curl on TAG's socket
# (hive's docker.sock, or the engine's), curl's time_total appended to
# TAG_API; the body is left in $TMP/body.TAG.
api_call() {
	local tag=$1 sock path out code secs
	local -n api_=${tag}_API
	if [[ $tag == DAPI ]]; then
		sock=${DAPI#unix://} path="/v$HIVE_API/services?status=true"
	else
		sock=$ENGINE_SOCK path="/v$ENGINE_API/services?status=true"
	fi
	out=$(curl -sS -m 10 -o "$TMP/body.$tag" -w '%{http_code} %{time_total}' --unix-socket "$sock" "http://localhost$path" 2>&1) ||
		die "$tag: curl --unix-socket $sock $path failed: $out"
	read -r code secs <<<"$out"
	[[ $code == 200 ]] || die "$tag: GET $path on $sock answered $code: $(head -c 300 "$TMP/body.$tag")"
	api_+=("$(awk -v s="$secs" 'BEGIN { printf "%.3f", s * 1000 }')")
}

# body_count TAG: how many services the last api_call of TAG returned.
body_count() { jq length "$TMP/body.$1"; }

# ---- preflight ---------------------------------------------------------

[[ $# -eq 0 ]] || die "usage: [HIVE_TEST_BIN=bin/hive] [BENCH_RUNS=5] [BENCH_CALLS=50] [BENCH_REQUESTS=200] $0 (no arguments)"
need_count BENCH_RUNS "$RUNS" runs
need_count BENCH_CALLS "$CALLS" calls
need_count BENCH_REQUESTS "$REQUESTS" requests
need_hive
need_tools docker jq awk ss ip curl timeout
need_ns_date

# The engine is reached as the caller's docker reaches it with no context:
# DOCKER_HOST if it is a unix socket, else the default one.
case ${DOCKER_HOST:-} in
"") ENGINE_SOCK=/var/run/docker.sock ;;
unix://*) ENGINE_SOCK=${DOCKER_HOST#unix://} ;;
*) die "DOCKER_HOST=$DOCKER_HOST: the engine must be on a unix socket, for curl --unix-socket" ;;
esac
begin_run hive-bench-dockerapi
# A docker CLI config of the run's own, for every docker call, so that no
# context, plugin or setting of the caller's ~/.docker weighs on either side.
unset DOCKER_CONTEXT
export DOCKER_CONFIG=$TMP/docker
mkdir -p "$DOCKER_CONFIG"
need_engine "$IMAGE"
[[ $(curl -s -m 5 --unix-socket "$ENGINE_SOCK" http://localhost/_ping 2>/dev/null) == OK ]] ||
	die "the engine does not answer GET /_ping on $ENGINE_SOCK"
swarm_preflight
log "hive $HIVE, $RUNS run(s), $CALLS docker service ls, $REQUESTS requests, temp dir $TMP"

# ---- hive, and swarm mode beside it ---------------------------------------

DIR=$TMP/hive
DIRS+=("$DIR")
DP_H=$(free_udp 5801)
addr=127.0.0.1:$(free_port "hive's cluster port")
out=$("$HIVE" up -d --config "$TMP/hive.yaml" --data-dir "$DIR" -H "unix://$DIR/hive.sock" \
	--listen-addr "$addr" --data-path-port "$DP_H" 2>&1) ||
	die "hive up -d --data-path-port $DP_H failed:"$'\n'"$out"
started "$DIR" "$addr"
HIVE_PID=${PID[$DIR]} HIVE_NODE=${NODE[$DIR]} WATCH_DIR=$DIR
wait_leader "$DIR"
DAPI=$(hc "$DIR" info --format json | jq -r '.docker_api // ""')
[[ $DAPI == unix://* ]] || die "hive info gives no Docker API socket (docker_api: '$DAPI')"
until=$(deadline)
until [[ $(dh version --format '{{.Server.APIVersion}}' 2>/dev/null) == "$HIVE_API" ]]; do
	watched "waiting for hive's Docker API"
	past "$until" && die "hive's Docker API on $DAPI does not answer docker version with API $HIVE_API:"$'\n'"$(dh version 2>&1)"
	sleep "$POLL"
done
H_NEGOTIATED=$(dh version --format '{{.Client.APIVersion}}')
log "hive: node $HIVE_NODE, Docker API $DAPI (negotiated $H_NEGOTIATED)"

# Swarm mode stays on beside hive for the whole run, so that each side is
# measured with the other idle beside it, and their runs can take turns.
DP_S=""
if [[ -z $SWARM_ERR ]]; then
	DP_S=$(free_udp $((DP_H + 1)) "$DP_H")
	SWARM_OURS=1
	if ! out=$(docker swarm init --advertise-addr 127.0.0.1 --data-path-port "$DP_S" 2>&1); then
		SWARM_ERR="docker swarm init --advertise-addr 127.0.0.1 --data-path-port $DP_S failed: ${out//$'\n'/ }"
		swarm_leave
	fi
fi
S_NEGOTIATED=""
if [[ -z $SWARM_ERR ]]; then
	S_NEGOTIATED=$(docker version --format '{{.Client.APIVersion}}')
	log "swarm: mode on (VXLAN port $DP_S, API $S_NEGOTIATED)"
else
	log "swarm baseline not measured: $SWARM_ERR"
fi

# ---- (d1) create 10 replicas until they run -------------------------------

# shellcheck disable=SC2034 # RAW_RET: filled through create's nameref, not reported
declare -a DAPI_MS=() DAPI_RET=() CLI_MS=() CLI_RET=() SW_MS=() SW_RET=() RAW_MS=() RAW_RET=()
declare -a DAPI_LS=() SW_LS=() DAPI_API=() SW_API=()
DAPI_POP="" SW_POP=""
TAGS=(DAPI CLI RAW)
[[ -n $SWARM_ERR ]] || TAGS+=(SW)
for i in $(seq "$RUNS"); do
	# Each run in another order, so that whatever else runs on the
	# machine weighs on every side alike.
	for j in "${!TAGS[@]}"; do
		tag=${TAGS[$(((i - 1 + j) % ${#TAGS[@]}))]}
		create "$tag" "$PREFIX-$tag-$i"
	done
done

# ---- (d2) service ls with 100 services --------------------------------------

LS_TAGS=(DAPI)
[[ -n $SWARM_ERR ]] || LS_TAGS+=(SW)
for tag in "${LS_TAGS[@]}"; do
	populate "$tag"
	pop=${tag}_POP
	n=$(listed "$tag")
	((n == SERVICES)) || die "$tag: docker service ls lists $n services, not the $SERVICES created"
	log "(d2) $tag: $SERVICES services of 0 replicas created in $(fmt_ms "${!pop}")"
	# One of each, untimed, before the clock: the first call of a client
	# pays for what later ones find ready (the engine's page cache, hive's
	# first read of the store).
	ls_call "$tag" && api_call "$tag"
	n=$(body_count "$tag")
	((n == SERVICES)) || die "$tag: GET /services?status=true gives $n services, not $SERVICES"
done
DAPI_LS=() SW_LS=() DAPI_API=() SW_API=()
# The calls alternate between the sides, one each in turn.
for _ in $(seq "$CALLS"); do
	for tag in "${LS_TAGS[@]}"; do ls_call "$tag"; done
done
for _ in $(seq "$REQUESTS"); do
	for tag in "${LS_TAGS[@]}"; do api_call "$tag"; done
done
for tag in "${LS_TAGS[@]}"; do
	n=$(body_count "$tag")
	((n == SERVICES)) || die "$tag: the last GET /services?status=true gave $n services, not $SERVICES"
done
log "(d2) hive: docker service ls p50 $(fmt_ms "$(pct 50 "${DAPI_LS[@]}")"), p99 $(fmt_ms "$(pct 99 "${DAPI_LS[@]}")"); GET p50 $(fmt_ms "$(pct 50 "${DAPI_API[@]}")"), p99 $(fmt_ms "$(pct 99 "${DAPI_API[@]}")")"
if ((${#SW_LS[@]})); then
	log "(d2) swarm: docker service ls p50 $(fmt_ms "$(pct 50 "${SW_LS[@]}")"), p99 $(fmt_ms "$(pct 99 "${SW_LS[@]}")"); GET p50 $(fmt_ms "$(pct 50 "${SW_API[@]}")"), p99 $(fmt_ms "$(pct 99 "${SW_API[@]}")")"
fi

# ---- teardown ------------------------------------------------------------

if ((SWARM_OURS)); then
	# shellcheck disable=SC2046 # one argument per service
	out=$(docker service rm $(docker service ls -q --filter "name=$PREFIX-") 2>&1) ||
		die "docker service rm of the run's services failed:"$'\n'"$out"
	swarm_leave
	drop_gwbridge
fi
stop_node "$DIR"
rm_containers "label=hive.node.id=$HIVE_NODE" || die "docker rm -f of hive's containers failed"
DIR="" HIVE_PID="" WATCH_DIR=""

# ---- report ----------------------------------------------------------------

read -r h h_min h_max <<<"$(stats "${DAPI_MS[@]}")"
read -r hr hr_min hr_max <<<"$(stats "${DAPI_RET[@]}")"
read -r c c_min c_max <<<"$(stats "${CLI_MS[@]}")"
read -r cr cr_min cr_max <<<"$(stats "${CLI_RET[@]}")"
read -r w w_min w_max <<<"$(stats "${RAW_MS[@]}")"
hl50=$(pct 50 "${DAPI_LS[@]}") hl99=$(pct 99 "${DAPI_LS[@]}")
ha50=$(pct 50 "${DAPI_API[@]}") ha99=$(pct 99 "${DAPI_API[@]}")
read -r _ hl_min hl_max <<<"$(stats "${DAPI_LS[@]}")"
read -r _ ha_min ha_max <<<"$(stats "${DAPI_API[@]}")"
s="" s_cell="n/a" s_goal="no baseline" sl50="" sl99="" sa50="" sa99=""
if ((${#SW_MS[@]})); then
	read -r s s_min s_max <<<"$(stats "${SW_MS[@]}")"
	read -r sr sr_min sr_max <<<"$(stats "${SW_RET[@]}")"
	s_cell=$(fmt_ms "$s")
	s_goal=$(met "$(atleast 0.8 "$(ratio "$h" "$s")")") # ratio ≤ 0.8
	sl50=$(pct 50 "${SW_LS[@]}") sl99=$(pct 99 "${SW_LS[@]}")
	sa50=$(pct 50 "${SW_API[@]}") sa99=$(pct 99 "${SW_API[@]}")
	read -r _ sl_min sl_max <<<"$(stats "${SW_LS[@]}")"
	read -r _ sa_min sa_max <<<"$(stats "${SW_API[@]}")"
fi

# cell MS: a time, or n/a.
cell() { if [[ -n $1 ]]; then fmt_ms "$1"; else echo "n/a"; fi; }

# rank P N: which call of N the nearest-rank P-th percentile is.
rank() { echo $(((($1 * $2) + 99) / 100)); }

table() {
	echo "| benchmark | hive | baseline | ratio | goal |"
	echo "|---|---|---|---|---|"
	echo "| (d1) \`docker service create -d --no-resolve-image --replicas $REPLICAS\` through hive's Docker API until $REPLICAS containers run, vs the same command against the engine in swarm mode | $(fmt_ms "$h") | $s_cell | $(ratio "$h" "${s:-0}") | ≤ 0.8: $s_goal |"
	echo "| (d1′) the Docker API's overhead: (d1) through hive's Docker API, vs \`hive service create -d --replicas $REPLICAS\` (hive's own CLI) until $REPLICAS containers run | $(fmt_ms "$h") | $(fmt_ms "$c") | $(ratio "$h" "$c") | — |"
	echo "| (d1r) the engine's floor: (d1) through hive's Docker API, vs $REPLICAS \`docker run -d\` of the image at once, no orchestrator, until they run | $(fmt_ms "$h") | $(fmt_ms "$w") | $(ratio "$h" "$w") | — |"
	echo "| (d2) \`docker service ls\` with $SERVICES services, whole command, p50 ($CALLS calls) | $(fmt_ms "$hl50") | $(cell "$sl50") | $(ratio "$hl50" "${sl50:-0}") | — |"
	echo "| (d2) \`docker service ls\`, p99 | $(fmt_ms "$hl99") | $(cell "$sl99") | $(ratio "$hl99" "${sl99:-0}") | — |"
	echo "| (d2′) \`GET /services?status=true\` with $SERVICES services (curl --unix-socket, time_total), p50 ($REQUESTS requests) | $(fmt_ms "$ha50") | $(cell "$sa50") | $(ratio "$ha50" "${sa50:-0}") | — |"
	echo "| (d2′) \`GET /services?status=true\`, p99 | $(fmt_ms "$ha99") | $(cell "$sa99") | $(ratio "$ha99" "${sa99:-0}") | — |"
}

details() {
	echo "Each (d1) time is the median of $RUNS run(s), min–max beside it; the (d2) percentiles are by nearest rank (p99 of $CALLS calls is call $(rank 99 "$CALLS") of them sorted, of $REQUESTS requests request $(rank 99 "$REQUESTS")):"
	echo
	echo "- (d1) hive, Docker API: $(range_ms "$h_min" "$h_max") until $REPLICAS containers of the service ran per \`docker ps\` of the engine (labels \`hive.node.id\` of the run's node and \`hive.service.name\`, polled every $(awk -v p="$POLL" 'BEGIN { print p * 1000 }') ms); \`docker service create -d\` returned after $(fmt_ms "$hr") ($(range_ms "$hr_min" "$hr_max"))"
	echo "- (d1′) hive, its own CLI: $(range_ms "$c_min" "$c_max"); \`hive service create -d\` returned after $(fmt_ms "$cr") ($(range_ms "$cr_min" "$cr_max"))"
	echo "- (d1r) $REPLICAS \`docker run -d\` started at once (labelled \`$RAW_LABEL\`): $(range_ms "$w_min" "$w_max") until all ran; what no orchestrator on this engine can beat"
	if [[ -n $s ]]; then
		echo "- (d1) Swarm: $(range_ms "$s_min" "$s_max") until $REPLICAS containers labelled \`com.docker.swarm.service.name\` ran; \`docker service create -d\` returned after $(fmt_ms "$sr") ($(range_ms "$sr_min" "$sr_max"))"
	fi
	echo "- (d1) both \`docker service create\`s run with \`--no-resolve-image\`: no registry has the local image, so neither CLI run asks one for its digest (through \`/distribution\`). Between runs the service is removed and the script waits until its containers are gone; each run takes its ${#TAGS[@]} creates in another order"
	echo "- (d2) the $SERVICES services have \`--replicas 0\` on both sides ($SERVICES running containers would crowd the machine's $(nproc) CPUs): the figures are the listing, not the tasks. Created with \`docker service create -d --no-resolve-image --replicas 0\` one after the other: $(fmt_ms "$DAPI_POP") in all through hive's Docker API$(if [[ -n $s ]]; then echo ", $(fmt_ms "$SW_POP") against Swarm"; fi)"
	echo "- (d2) \`docker service ls\`: the whole CLI command, wall clock (the process, its API version negotiation, \`GET /services?status=true\`, the table it prints); hive $(range_ms "$hl_min" "$hl_max")$(if [[ -n $s ]]; then echo ", Swarm $(range_ms "$sl_min" "$sl_max")"; fi). The CLI negotiated API $H_NEGOTIATED with hive$(if [[ -n $s ]]; then echo " and $S_NEGOTIATED with the engine"; fi)"
	echo "- (d2′) \`GET /v$HIVE_API/services?status=true\` on hive's \`docker.sock\`$(if [[ -n $s ]]; then echo ", \`GET /v$ENGINE_API/services?status=true\` on the engine's \`$ENGINE_SOCK\`"; fi) (each the newest API version of its server), one curl process per request, timed by curl's \`time_total\` (connect, request, the whole answer); every answer 200, and the first and the last counted $SERVICES services; hive $(range_ms "$ha_min" "$ha_max")$(if [[ -n $s ]]; then echo ", Swarm $(range_ms "$sa_min" "$sa_max")"; fi)"
	if [[ -n $s ]]; then
		echo "- hive and swarm mode run side by side on the one engine for the whole run, each idle while the other is measured; the (d2) calls and requests alternate between them, one each in turn, after one untimed call of each"
	fi
	echo "- every docker command runs with a \`DOCKER_CONFIG\` of the run's own (no context or setting of the caller's); against hive with \`DOCKER_HOST=unix://…/docker.sock\`, from \`hive info --format json\`'s \`docker_api\`"
	[[ -z $SWARM_ERR ]] || echo "- Swarm baseline not measured: $SWARM_ERR"
}

report=$(
	report_head "hive Docker API benchmark results"
	report_load "$LOAD_START"
	echo "- command: \`$COMMAND\`"
	echo
	table
	echo
	details
)
publish "$report"
