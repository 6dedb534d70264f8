#!/usr/bin/env bash
# bench/containerd.sh: hive on its containerd runtime next to hive on its
# Docker runtime, in the same run on the same machine:
#
#   (e) time from `hive service create -d --replicas 10` until the 10
#       containers run, per the engine, with each runtime;
#   (f) memory per task of each runtime with 10 tasks running, by PSS: the
#       processes the runtime adds per task (the shim; the containerd
#       runtime's log copier, one per node, divided among the tasks; the
#       fuse-overlayfs process of Docker's storage driver where Docker uses
#       one, as on hive's CI machine), the task's
#       own process, and the growth of the engine daemons (dockerd and
#       Docker's containerd, or the containerd hive uses).
#
#   bench/containerd.sh               # from the repository root, after make build testimage containerd
#   HIVE_TEST_BIN=/path/to/hive BENCH_RUNS=9 bench/containerd.sh
#
# Environment:
#   HIVE_TEST_BIN                 hive binary (default: bin/hive of this repository)
#   BENCH_RUNS                    repetitions of each timing; the median is reported (default 5)
#   BENCH_SETTLE                  seconds the 10 tasks run before memory is read (default 5)
#   HIVE_TEST_CONTAINERD_SOCKET   containerd to use (default /run/hive-containerd/containerd.sock,
#                                 the one plugins/runtime-containerd/scripts/containerd.sh starts)
#
# The table goes to stdout and to bench/results-containerd.md. The script
# only touches what it made: two hive daemons on fresh data dirs in a temp
# dir, the containers of their node IDs, a containerd namespace, bridge and
# plugin root named for the run. An EXIT trap removes all of it, whether the
# run ends well, fails or is interrupted.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
RUNS=${BENCH_RUNS:-5}
SETTLE=${BENCH_SETTLE:-5}
SOCK=${HIVE_TEST_CONTAINERD_SOCKET:-/run/hive-containerd/containerd.sock}
IMAGE=hive-test/web:v1
REPLICAS=10
POLL=0.02
TIMEOUT=120
RESULTS=$here/results-containerd.md
COMMAND="HIVE_TEST_BIN=$HIVE BENCH_RUNS=$RUNS BENCH_SETTLE=$SETTLE ${BASH_SOURCE[0]}"

# Keep the daemons on the settings this script writes, whatever the shell has.
clear_hive_env HIVE_TEST_CONTAINERD_SOCKET

RUN_ID="$$-$(date +%s)"
SUFFIX=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
NS=hive-bench-$SUFFIX
BRIDGE=hiveb$SUFFIX
SUBNET=10.233.$((RANDOM % 256)).0/24
TMP=""
declare -a DIRS=() PIDS=() NODES=()

trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

ctr_() { ctr -a "$SOCK" -n "$NS" "$@"; }

cleanup() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +e
	log "cleaning up"
	local i dir svc node
	for i in "${!DIRS[@]}"; do
		dir=${DIRS[$i]}
		# Services first, so that hive's runtime releases their networks.
		for svc in $(hc "$dir" service ls -q 2>/dev/null); do hc "$dir" service rm "$svc" >/dev/null 2>&1; done
	done
	for _ in $(seq 100); do
		[[ -z $TMP ]] && break
		n=$(ctr_ containers ls -q 2>/dev/null | wc -l)
		((n == 0)) && break
		sleep 0.2
	done
	for i in "${!DIRS[@]}"; do
		hc "${DIRS[$i]}" down >/dev/null 2>&1
		kill_ours "${PIDS[$i]}"
	done
	for node in "${NODES[@]}"; do
		rm_containers "label=hive.node.id=$node"
	done
	if [[ -n $TMP ]]; then
		for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1; done
		sleep 0.5
		for id in $(ctr_ containers ls -q 2>/dev/null); do
			ctr_ tasks rm -f "$id" >/dev/null 2>&1
			ctr_ containers rm "$id" >/dev/null 2>&1
		done
		for img in $(ctr_ images ls -q 2>/dev/null); do ctr_ images rm --sync "$img" >/dev/null 2>&1; done
		ctr -a "$SOCK" namespaces rm "$NS" >/dev/null 2>&1
		# The log copier ends by itself once it has nothing to copy.
		lockf=$TMP/ctd/copier/copier.lock
		for _ in $(seq 150); do
			[[ -e $lockf ]] && ! flock -n "$lockf" true 2>/dev/null || break
			sleep 0.1
		done
		if [[ -e $lockf ]] && ! flock -n "$lockf" true 2>/dev/null; then
			cp=$(cat "$lockf")
			tr '\0' ' ' </proc/"$cp"/cmdline 2>/dev/null | grep -q '^hive-log-copier' && kill -9 "$cp" 2>/dev/null
		fi
		for pin in "$TMP"/ctd/netns/*; do [[ -e $pin ]] && umount "$pin" 2>/dev/null; done
		ip link delete "$BRIDGE" 2>/dev/null
		rm -f /var/lib/cni/results/"$BRIDGE"-* 2>/dev/null
		rm -rf "$TMP"
	fi
	((rc == 0)) || log "failed (exit $rc); everything this run made has been removed"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ppid_of() { awk '{ print $4 }' "/proc/$1/stat"; }

need_tools docker ctr jq ip awk ss
need_hive
need_engine "$IMAGE"
ctr -a "$SOCK" version >/dev/null 2>&1 || die "containerd does not answer at $SOCK: run make containerd"

TMP=$(mktemp -d /tmp/hive-bench-ctd.XXXXXX)
log "importing $IMAGE into containerd namespace $NS"
docker save "$IMAGE" | ctr_ images import - >/dev/null || die "import $IMAGE into containerd"

# Two configurations: Docker (the default runtime) and containerd.
printf 'log: {level: info}\n' >"$TMP/docker.yaml"
cat >"$TMP/containerd.yaml" <<YAML
log: {level: info}
plugins:
  runtime: containerd
  config:
    runtime-containerd:
      socket: $SOCK
      namespace: $NS
      root: $TMP/ctd
      bridge: $BRIDGE
      subnet: $SUBNET
YAML

# up NAME CONFIG: start a hive on TMP/NAME and wait until it leads and its
# plugins run; prints nothing, sets UP_NODE to its node ID.
up() {
	local dir=$TMP/$1 out until pid
	out=$("$HIVE" up -d --config "$2" --data-dir "$dir" -H "unix://$dir/hive.sock" --listen-addr "127.0.0.1:$(free_port)" 2>&1) ||
		die "hive up ($1) failed:"$'\n'"$out"
	pid=$(hc "$dir" info --format json | jq -r .pid)
	DIRS+=("$dir")
	PIDS+=("$pid")
	until=$(deadline)
	until hc "$dir" info --format json 2>/dev/null | jq -e '.leader == true' >/dev/null &&
		hc "$dir" plugin ls --format json 2>/dev/null | jq -e 'length > 0 and all(.[]; .state == "running")' >/dev/null; do
		past "$until" && die "hive ($1) not ready after ${TIMEOUT}s; see $dir/hive.log"
		sleep "$POLL"
	done
	UP_NODE=$(hc "$dir" info --format json | jq -r .node_id)
	NODES+=("$UP_NODE")
}

# running RUNTIME NODE SERVICE: how many of the service's containers run.
running() {
	local out
	case $1 in
	docker)
		out=$(docker ps -q --filter "label=hive.node.id=$2" --filter "label=hive.service.name=$3" --filter status=running)
		if [[ -z $out ]]; then echo 0; else wc -l <<<"$out"; fi
		;;
	containerd)
		# The namespace holds only this bench's tasks, of one service at a time.
		ctr_ tasks ls 2>/dev/null | awk '$3 == "RUNNING"' | wc -l
		;;
	esac
}

# existing RUNTIME NODE: how many containers of the node exist.
existing() {
	case $1 in
	docker) docker ps -aq --filter "label=hive.node.id=$2" | wc -l ;;
	containerd) ctr_ containers ls -q | wc -l ;;
	esac
}

wait_until() { # RUNTIME NODE SERVICE WANT(running count, or "gone")
	local until n
	until=$(deadline)
	while :; do
		if [[ $4 == gone ]]; then
			n=$(existing "$1" "$2")
			((n == 0)) && return 0
		else
			n=$(running "$1" "$2" "$3")
			((n >= $4)) && return 0
		fi
		past "$until" && die "$1: waited ${TIMEOUT}s for $3 ($4), at $n"
		sleep "$POLL"
	done
}

declare -A DIR_OF NODE_OF
up docker "$TMP/docker.yaml"
DIR_OF[docker]=$TMP/docker NODE_OF[docker]=$UP_NODE
up containerd "$TMP/containerd.yaml"
DIR_OF[containerd]=$TMP/containerd NODE_OF[containerd]=$UP_NODE
log "two hives ready: Docker runtime (node ${NODE_OF[docker]}), containerd runtime (node ${NODE_OF[containerd]}, namespace $NS)"

# ---- (e) create 10 until running, alternating the runtimes --------------

declare -a E_docker=() E_containerd=()
for i in $(seq "$RUNS"); do
	for rt in docker containerd; do
		dir=${DIR_OF[$rt]} node=${NODE_OF[$rt]} name=bench-$rt-$i
		t0=$(now)
		out=$(hc "$dir" service create -d --name "$name" --replicas "$REPLICAS" "$IMAGE" 2>&1) ||
			die "hive ($rt) service create failed:"$'\n'"$out"
		wait_until "$rt" "$node" "$name" "$REPLICAS"
		t=$(ms "$t0" "$(now)")
		if [[ $rt == docker ]]; then E_docker+=("$t"); else E_containerd+=("$t"); fi
		log "(e) run $i: $rt ran $REPLICAS replicas in $(fmt_ms "$t")"
		hc "$dir" service rm "$name" >/dev/null || die "hive ($rt) service rm failed"
		wait_until "$rt" "$node" "$name" gone
	done
done

# ---- (f) memory per task ---------------------------------------------------

DOCKERD_PID=$(pgrep -xo dockerd || true)
DOCKER_CTD_PID=$(pgrep -f -o 'containerd --config /var/run/docker/containerd/containerd.toml' || true)
CTD_PID=$(ss -Hxlp "src $SOCK" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)

# pids_of RUNTIME NODE SERVICE: the init PIDs of the service's tasks.
pids_of() {
	case $1 in
	docker)
		docker ps -q --filter "label=hive.node.id=$2" --filter "label=hive.service.name=$3" |
			xargs docker inspect -f '{{.State.Pid}}'
		;;
	containerd) ctr_ tasks ls 2>/dev/null | awk '$3 == "RUNNING" { print $2 }' ;;
	esac
}

# measure RUNTIME: run 10 tasks, read the PSS of each task's shim, copier and
# process, and the engine daemons' growth; sets F_* for the runtime.
measure() {
	local rt=$1 dir=${DIR_OF[$1]} node=${NODE_OF[$1]} name=bench-$1-mem engines e before=0 after=0
	case $rt in
	docker) engines="$DOCKERD_PID $DOCKER_CTD_PID" ;;
	containerd) engines="$CTD_PID" ;;
	esac
	for e in $engines; do before=$((before + $(pss_kb "$e"))); done
	hc "$dir" service create -d --name "$name" --replicas "$REPLICAS" "$IMAGE" >/dev/null
	wait_until "$rt" "$node" "$name" "$REPLICAS"
	sleep "$SETTLE"
	local shim=0 copier=0 task=0 storage=0 n=0 pid sp cp cid merged fp
	if [[ $rt == docker ]]; then
		for cid in $(docker ps -q --filter "label=hive.node.id=$node" --filter "label=hive.service.name=$name"); do
			merged=$(docker inspect -f '{{.GraphDriver.Data.MergedDir}}' "$cid")
			fp=$(pgrep -f "^fuse-overlayfs .*${merged}\$" | head -1 || true)
			[[ -z $fp ]] || storage=$((storage + $(pss_kb "$fp")))
		done
	fi
	for pid in $(pids_of "$rt" "$node" "$name"); do
		sp=$(ppid_of "$pid")
		shim=$((shim + $(pss_kb "$sp")))
		task=$((task + $(pss_kb "$pid")))
		n=$((n + 1))
	done
	if [[ $rt == containerd ]]; then
		# One log copier serves every task of the node; its PID is in its lock.
		cp=$(cat "$TMP/ctd/copier/copier.lock" 2>/dev/null || true)
		[[ -n $cp && -r /proc/$cp/smaps_rollup ]] || die "no log copier found (pid '$cp')"
		copier=$(pss_kb "$cp")
	fi
	((n == REPLICAS)) || die "$rt: found $n task processes, want $REPLICAS"
	for e in $engines; do after=$((after + $(pss_kb "$e"))); done
	eval "F_${rt}_shim=$((shim / n)) F_${rt}_copier=$((copier / n)) F_${rt}_storage=$((storage / n)) F_${rt}_task=$((task / n)) F_${rt}_engine=$(((after - before) / n))"
	log "(f) $rt: per task shim $(fmt_mb $((shim / n))), copier $(fmt_mb $((copier / n))), storage $(fmt_mb $((storage / n))), process $(fmt_mb $((task / n))); engines $(fmt_mb "$before") -> $(fmt_mb "$after")"
	hc "$dir" service rm "$name" >/dev/null
	wait_until "$rt" "$node" "$name" gone
}
measure docker
measure containerd

# ---- report ----------------------------------------------------------------

read -r ed_med ed_min ed_max <<<"$(stats "${E_docker[@]}")"
read -r ec_med ec_min ec_max <<<"$(stats "${E_containerd[@]}")"
rd=$((F_docker_shim + F_docker_copier + F_docker_storage)) rc=$((F_containerd_shim + F_containerd_copier + F_containerd_storage))
td=$((rd + F_docker_task)) tc=$((rc + F_containerd_task))

report=$(
	report_head "hive benchmark results: containerd runtime vs Docker runtime" \
		"$(nproc) CPUs, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r), Docker Engine $(docker version --format '{{.Server.Version}}'), containerd $(ctr -a "$SOCK" version 2>/dev/null | awk '/Server:/{s=1} s&&/Version:/{print $2; exit}') at $SOCK"
	echo "- command: \`$COMMAND\`"
	echo
	echo "| benchmark | containerd runtime | Docker runtime | ratio |"
	echo "|---|---|---|---|"
	echo "| (e) \`service create --replicas $REPLICAS\` until $REPLICAS run | $(fmt_ms "$ec_med") | $(fmt_ms "$ed_med") | $(ratio "$ec_med" "$ed_med") |"
	echo "| (f) runtime processes per task (shim, log copier, storage; PSS) | $(fmt_mb "$rc") | $(fmt_mb "$rd") | $(ratio "$rc" "$rd") |"
	echo "| (f) … with the task's own process | $(fmt_mb "$tc") | $(fmt_mb "$td") | $(ratio "$tc" "$td") |"
	echo "| (f) engine daemons' growth per task | $(fmt_mb "$F_containerd_engine") | $(fmt_mb "$F_docker_engine") | — |"
	echo
	echo "Medians of $RUNS runs, alternating the runtimes; min–max: containerd $(range_ms "$ec_min" "$ec_max"), Docker $(range_ms "$ed_min" "$ed_max")."
	echo
	echo "- (f) per task, PSS after $SETTLE s with $REPLICAS tasks: containerd runtime: shim $(fmt_mb "$F_containerd_shim"), log copier $(fmt_mb "$F_containerd_copier") (one process for the node: $(fmt_mb $((F_containerd_copier * REPLICAS))) / $REPLICAS), task $(fmt_mb "$F_containerd_task") (overlayfs snapshots: no storage process); Docker runtime: shim $(fmt_mb "$F_docker_shim"), fuse-overlayfs $(fmt_mb "$F_docker_storage"), task $(fmt_mb "$F_docker_task") (Docker copies the output inside dockerd)."
	echo "- Engine growth is the PSS of dockerd + Docker's containerd, or of the containerd hive uses, with the $REPLICAS tasks minus before them, divided by $REPLICAS: a difference of two readings of large processes, so an order of magnitude."
)
publish "$report"
