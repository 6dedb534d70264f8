#!/usr/bin/env bash
# bench/network.sh: hive's overlay network benchmarks. Two hive nodes (a
# manager and a worker) on loopback addresses of this one machine
# (127.0.0.230-239), each with its own VXLAN port, sharing its Docker Engine:
# HTTP through a service's virtual IP against straight to its task, across
# the VXLAN against within a node, how soon a new task's name resolves in
# another task, and what a network costs a node. Each figure stands beside
# what can be measured as a baseline in the same run; the table goes to
# stdout and to bench/results-network.md. See bench/README.md.
#
#   bench/network.sh                  # from the repository root, as root, after make build testimage
#   HIVE_TEST_BIN=/path/to/hive BENCH_RUNS=9 bench/network.sh
#
# Environment:
#   HIVE_TEST_BIN    hive binary (default: bin/hive of this repository)
#   BENCH_RUNS       repetitions of each timing; the median is reported (default 5)
#   BENCH_IDLE       seconds a node stays idle before its memory is read (default 10)
#   BENCH_REQUESTS   requests per keep-alive load run (default 20000; a tenth of it with a new connection per request)
#   BENCH_CONNS      connections of each load run (default 4)
#
# The script only touches what it made: hive daemons on fresh data dirs in a
# temp dir (found again by the PID in their hive.lock), the containers of
# their node IDs, the network namespaces named after their node IDs, and,
# when the engine was not in swarm mode, swarm mode with its own services and
# network. An EXIT trap undoes all of it, whether the run ends well, fails or
# is interrupted.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=network-bench
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
RUNS=${BENCH_RUNS:-5}
IDLE=${BENCH_IDLE:-10}
REQUESTS=${BENCH_REQUESTS:-20000}
CONNS=${BENCH_CONNS:-4}
IMAGE=hive-test/web:v1
NET=bench          # the hive network (the cluster is this script's own)
MEM_TASKS=10       # tasks of the memory figure (n4)
POLL=0.05          # seconds between polls
TIMEOUT=120        # seconds a set-up wait may take before the run fails
CLI_TIMEOUT=20     # seconds one hive CLI call may take
PROBE_EVERY=10ms   # dnsprobe's interval (n3)
SLICES=4           # load runs per target and run (n1, n2), each with 1/SLICES of the requests (even)
RESULTS=$here/results-network.md
COMMAND="HIVE_TEST_BIN=$HIVE BENCH_RUNS=$RUNS BENCH_IDLE=$IDLE BENCH_REQUESTS=$REQUESTS BENCH_CONNS=$CONNS ${BASH_SOURCE[0]}${*:+ $*}"

# Keep the daemons this script starts on the defaults, whatever the
# caller's shell has set.
clear_hive_env

# ---- state the cleanup undoes ------------------------------------------

RUN_ID="$$-$(date +%s)"
TMP=""
declare -a DIRS=()     # data dirs of nodes started and not yet torn down
declare -a NODES=()    # every node ID seen (their containers carry hive.node.id)
declare -A PID=()      # data dir -> daemon PID
declare -A EXE=()      # data dir -> the daemon's executable (its plugins run it too)
declare -A NODE=()     # data dir -> node ID
declare -A ADDR=()     # data dir -> cluster address (127.0.0.N:PORT)
PROBE_PID=""           # a dnsprobe running in the background
SWARM_OURS=0           # 1 while swarm mode is on because this script turned it on
GWBRIDGE_EXISTED=1     # docker_gwbridge was there before the script began
SWARM_NET="hive-netbench-$RUN_ID"
declare -a SWARM_SVCS=()

cleanup() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +e
	log "cleaning up"
	local dir node ns link i
	[[ -z $PROBE_PID ]] || kill "$PROBE_PID" 2>/dev/null
	for dir in "${DIRS[@]}"; do
		stop_node "$dir"
	done
	for node in "${NODES[@]}"; do
		rm_containers "label=hive.node.id=$node"
	done
	# Namespaces the nodes' overlay plugins left (a node stopped with tasks
	# on a network keeps them, as it keeps the tasks' containers).
	for ns in $(own_netns "${NODES[@]}"); do
		log "removing the network namespace $ns the overlay plugin left"
		ip netns delete "$ns"
	done
	for link in $(own_vxlan "${DP_M:-}" "${DP_W:-}"); do
		log "removing the VXLAN device $link the overlay plugin left in the host's namespace"
		ip link delete "$link"
	done
	if ((SWARM_OURS)); then
		swarm_undo "${SWARM_SVCS[@]}"
		# The engine drops a swarm network a moment after it leaves.
		for i in $(seq 50); do
			docker network inspect "$SWARM_NET" >/dev/null 2>&1 || break
			docker network rm "$SWARM_NET" >/dev/null 2>&1 || sleep 0.2
		done
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

# descendants PID: every process under PID, at any depth.
descendants() {
	local p
	for p in $(children "$1"); do
		echo "$p"
		descendants "$p"
	done
}

# live_pss_kb PID: the PSS of PID in KiB; fails if PID is gone, where
# lib.sh's pss_kb reads 0: a reading of the node must not quietly be 0.
live_pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }

# rfc3339_ns TIME: an RFC 3339 time (docker's .State.StartedAt) in ns since the epoch.
rfc3339_ns() {
	[[ $1 =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || die "not an RFC 3339 time: '$1'"
	date -d "$1" +%s%N
}

# addr_free IP: no socket is bound to IP.
addr_free() { ! ss -Htuan | awk '{ print $5 }' | grep -q "^${1//./\\.}:"; }

# free_addr [NOT]: the first loopback address of 127.0.0.230-239 no socket
# is bound to, other than NOT.
free_addr() {
	local i
	for i in $(seq 230 239); do
		if [[ 127.0.0.$i != "${1:-}" ]] && addr_free "127.0.0.$i"; then
			echo "127.0.0.$i"
			return 0
		fi
	done
	die "every address of 127.0.0.230-239 is in use"
}

# ---- hive nodes --------------------------------------------------------

# create SERVICE NODE REPLICAS ARGS...: create SERVICE with REPLICAS tasks
# on NODE and wait until they run, per hive and per the engine.
create() {
	local svc=$1 node=$2 replicas=$3 out until n c
	shift 3
	out=$(hc "$MD" service create -d --name "$svc" --replicas "$replicas" --constraint "node.id==$node" "$@" "$IMAGE" 2>&1) ||
		die "hive service create $svc failed:"$'\n'"$out"
	until=$(deadline)
	while :; do
		n=$(running_tasks "$MD" "$svc")
		c=$(count --filter "label=hive.node.id=$node" --filter "label=hive.service.name=$svc" --filter status=running)
		((n < replicas || c < replicas)) || break
		alive "$MD" "waiting for $svc"
		alive "$WD" "waiting for $svc"
		past "$until" && die "$svc: $n of $replicas tasks running per hive, $c containers per the engine, after ${TIMEOUT}s:"$'\n'"$(hc "$MD" service ps "$svc" 2>&1)"
		sleep "$POLL"
	done
}

# remove SERVICE: hive service rm, then wait until its containers are gone.
remove() {
	local svc=$1 out until m w
	out=$(hc "$MD" service rm "$svc" 2>&1) || die "hive service rm $svc failed:"$'\n'"$out"
	until=$(deadline)
	while m=$(count -a --filter "label=hive.service.name=$svc" --filter "label=hive.node.id=$M") &&
		w=$(count -a --filter "label=hive.service.name=$svc" --filter "label=hive.node.id=$W") && ((m + w > 0)); do
		alive "$MD" "waiting for $svc to go"
		past "$until" && die "$svc: containers still there ${TIMEOUT}s after hive service rm"
		sleep "$POLL"
	done
}

# container SERVICE NODE: the one running container of SERVICE on NODE.
container() {
	local cid
	cid=$(docker ps -q --filter "label=hive.node.id=$2" --filter "label=hive.service.name=$1" --filter status=running)
	[[ $(wc -w <<<"$cid") == 1 ]] || die "want one running container of $1 on node $2, found: ${cid:-none}"
	echo "$cid"
}

# cpid CONTAINER: its process, whose network namespace is the task's.
cpid() {
	local p
	p=$(docker inspect -f '{{.State.Pid}}' "$1") || die "docker inspect $1 failed"
	[[ $p =~ ^[1-9][0-9]*$ ]] || die "container $1 has no process (pid '$p')"
	echo "$p"
}

# task_addr SERVICE: the address on $NET of SERVICE's one running task.
task_addr() {
	local a
	a=$(hc "$MD" service ps "$1" --format json | jq -r --arg net "$NET_ID" \
		'[.[] | select(.desired_state == "running" and .status.state == "running") | .networks[]? | select(.network_id == $net) | .addresses[0]] | first // empty')
	[[ -n $a ]] || die "the running task of $1 has no address on network $NET:"$'\n'"$(hc "$MD" service ps "$1" --format json 2>&1)"
	echo "${a%/*}"
}

# vip SERVICE: SERVICE's virtual IP on $NET.
vip() {
	local a
	a=$(hc "$MD" service inspect "$1" | jq -r --arg net "$NET_ID" '[.[0].endpoint.virtual_ips[]? | select(.network_id == $net) | .addr] | first // empty')
	[[ -n $a ]] || die "service $1 has no virtual IP on network $NET:"$'\n'"$(hc "$MD" service inspect "$1" 2>&1)"
	echo "${a%/*}"
}

# load PID URL MODE N: bench/load inside the network namespace of process
# PID, N requests over BENCH_CONNS connections, MODE keep (keep-alive) or new
# (a new connection per request); prints "REQUESTS SECONDS".
load() {
	local out args=(-url "$2" -c "$CONNS" -n "$4" -expect v1)
	[[ $3 == keep ]] || args+=(-new-conn)
	out=$(nsenter -t "$1" -n "$LOAD" "${args[@]}" 2>&1) || die "load ($3) against $2 from the namespace of pid $1 failed: $out"
	jq -r '"\(.requests) \(.seconds)"' <<<"$out"
}

# per MODE: the requests of one load run of MODE: BENCH_REQUESTS, a tenth of it with new connections.
per() { if [[ $1 == keep ]]; then echo "$REQUESTS"; else echo "$NEW_REQUESTS"; fi; }

# rate "REQUESTS SECONDS": requests per second.
rate() { awk '{ printf "%.1f", $1 / $2 }' <<<"$1"; }

# answers PID URL: wait until URL answers from the namespace of process PID.
answers() {
	local until out
	until=$(deadline)
	until out=$(nsenter -t "$1" -n "$LOAD" -url "$2" -n 1 -c 1 -timeout 2s -expect v1 2>&1); do
		past "$until" && die "$2 does not answer from the namespace of pid $1 after ${TIMEOUT}s: $out"
		sleep "$POLL"
	done
}

# vx: the packets the vxlan0 devices of the two nodes' namespaces of $NET
# sent and received: "M_tx M_rx W_tx W_rx".
vx() {
	local ns out
	for ns in "$NS_M" "$NS_W"; do
		out=$(ip -n "$ns" -s -j link show dev vxlan0 | jq -r '.[0].stats64 | "\(.tx.packets) \(.rx.packets)"') ||
			die "cannot read vxlan0's counters in the namespace $ns"
		printf '%s ' "$out"
	done
	echo
}

# probe_start PID NAME...: dnsprobe for NAMEs inside the namespace of
# process PID, in the background; returns once it has asked each name once.
probe_start() {
	local pid=$1 args=() n until
	shift
	for n in "$@"; do args+=(-name "$n"); done
	nsenter -t "$pid" -n "$PROBE" "${args[@]}" -every "$PROBE_EVERY" -timeout 60s >"$TMP/probe.out" 2>"$TMP/probe.err" &
	PROBE_PID=$!
	until=$(deadline 10)
	until grep -q '^dnsprobe: polling' "$TMP/probe.err"; do
		kill -0 "$PROBE_PID" 2>/dev/null || die "dnsprobe exited before it polled: $(cat "$TMP/probe.err")"
		past "$until" && die "dnsprobe has not polled after 10 s: $(cat "$TMP/probe.err")"
		sleep 0.01
	done
}

# probe_wait: wait for the probe; sets PROBE_AT[NAME] to when each name first answered (ns).
declare -A PROBE_AT=()
probe_wait() {
	local pid=$PROBE_PID name at
	if ! wait "$pid"; then
		PROBE_PID=""
		die "dnsprobe failed: $(cat "$TMP/probe.err")"
	fi
	PROBE_PID=""
	PROBE_AT=()
	while read -r name at; do
		PROBE_AT[$name]=$at
	done < <(jq -r '"\(.name) \(.at_unix_ns)"' "$TMP/probe.out")
}

# ---- swarm -------------------------------------------------------------

# swarm_running SERVICE: wait until SERVICE's one container runs; prints it.
swarm_running() {
	local until cid
	until=$(deadline)
	until cid=$(docker ps -q --filter "label=com.docker.swarm.service.name=$1" --filter status=running) && [[ -n $cid ]]; do
		past "$until" && die "swarm service $1 does not run after ${TIMEOUT}s:"$'\n'"$(docker service ps --no-trunc "$1" 2>&1)"
		sleep "$POLL"
	done
	echo "$cid"
}

# swarm_remove SERVICE: docker service rm, then wait until its containers are gone.
swarm_remove() {
	local until
	docker service rm "$1" >/dev/null || die "docker service rm $1 failed"
	until=$(deadline)
	while (($(count -a --filter "label=com.docker.swarm.service.name=$1") > 0)); do
		past "$until" && die "swarm service $1: containers still there ${TIMEOUT}s after docker service rm"
		sleep "$POLL"
	done
}

# ---- preflight ---------------------------------------------------------

[[ $# -eq 0 ]] || die "usage: [HIVE_TEST_BIN=bin/hive] [BENCH_RUNS=5] [BENCH_IDLE=10] [BENCH_REQUESTS=20000] [BENCH_CONNS=4] $0 (no arguments)"
need_count BENCH_RUNS "$RUNS" runs
[[ $IDLE =~ ^[0-9]+$ ]] || die "BENCH_IDLE=$IDLE: want a number of seconds"
need_count BENCH_REQUESTS "$REQUESTS" requests
need_count BENCH_CONNS "$CONNS" connections
NEW_REQUESTS=$((REQUESTS / 10))
((CONNS <= NEW_REQUESTS / SLICES)) || die "BENCH_CONNS=$CONNS is more than BENCH_REQUESTS/$((10 * SLICES)) (each slice of a new-connection run sends that many)"
need_hive
((EUID == 0)) || die "overlay networks need root (network namespaces, VXLAN, nftables), and so do nsenter and ip netns: run as root"
need_tools docker jq awk ss go timeout nsenter ip
need_ns_date
need_engine "$IMAGE"

swarm_preflight
begin_run hive-network-bench
log "run $RUN_ID in $TMP, $RUNS run(s) of each timing"

log "building the load generator (bench/load) and the resolver poller (bench/dnsprobe)"
out=$(cd "$repo" && go build -o "$TMP/load" ./bench/load 2>&1) || die "go build ./bench/load failed:"$'\n'"$out"
out=$(cd "$repo" && go build -o "$TMP/dnsprobe" ./bench/dnsprobe 2>&1) || die "go build ./bench/dnsprobe failed:"$'\n'"$out"
LOAD=$TMP/load
PROBE=$TMP/dnsprobe

# ---- the two nodes -------------------------------------------------------

IP_M=$(free_addr)
IP_W=$(free_addr "$IP_M")
DP_M=$(free_udp 5789)
DP_W=$(free_udp $((DP_M + 1)) "$DP_M")
MD=$TMP/manager
WD=$TMP/worker
DIRS+=("$MD")
addr=$IP_M:$(free_port)
out=$("$HIVE" up -d --config "$TMP/hive.yaml" --data-dir "$MD" -H "unix://$MD/hive.sock" \
	--listen-addr "$addr" --data-path-port "$DP_M" 2>&1) || die "hive up -d --listen-addr $addr --data-path-port $DP_M failed:"$'\n'"$out"
started "$MD" "$addr"
wait_leader "$MD"
token=$(hc "$MD" join-token worker -q 2>&1) || die "hive join-token worker -q failed:"$'\n'"$token"
DIRS+=("$WD")
addr=$IP_W:$(free_port)
out=$("$HIVE" join -d --config "$TMP/hive.yaml" --token "$token" --data-dir "$WD" -H "unix://$WD/hive.sock" \
	--listen-addr "$addr" --data-path-port "$DP_W" "${ADDR[$MD]}" 2>&1) ||
	die "hive join -d --listen-addr $addr --data-path-port $DP_W ${ADDR[$MD]} failed:"$'\n'"$out"
started "$WD" "$addr"
wait_nodes "$MD" 2
M=${NODE[$MD]}
W=${NODE[$WD]}
log "manager $M on ${ADDR[$MD]} (VXLAN port $DP_M), worker $W on ${ADDR[$WD]} (VXLAN port $DP_W)"

# ---- (n4) what the network costs a node: memory and processes --------------

# plugin_pid DIR NAME: the PID of plugin NAME of the node on DIR, checked to
# be a child of its daemon.
plugin_pid() {
	local p
	p=$(hc "$1" plugin ls --format json | jq -r --arg n "$2" '.[] | select(.name == $n) | .pid // empty')
	[[ $p =~ ^[1-9][0-9]*$ ]] || die "hive plugin ls on $1 gives no PID for $2:"$'\n'"$(hc "$1" plugin ls 2>&1)"
	[[ $(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) == "${PID[$1]}" ]] ||
		die "plugin $2 (pid $p) of the node on $1 is not a child of its daemon (pid ${PID[$1]})"
	echo "$p"
}

# mem_reading PHASE: after BENCH_IDLE s, read the worker's daemon and its
# network plugin into MEM[PHASE.*].
declare -A MEM=()
mem_reading() {
	local ph=$1 wp mp op
	log "(n4) $ph: $MEM_TASKS tasks running on the worker; idle for ${IDLE}s"
	sleep "$IDLE"
	alive "$WD" "(n4) while idle"
	wp=${PID[$WD]} mp=${PID[$MD]}
	op=$(plugin_pid "$WD" network-overlay)
	MEM[$ph.pss]=$(live_pss_kb "$wp")
	MEM[$ph.rss]=$(rss_kb "$wp")
	MEM[$ph.anon]=$(anon_kb "$wp")
	MEM[$ph.mpss]=$(live_pss_kb "$mp")
	MEM[$ph.plugin_pss]=$(live_pss_kb "$op")
	MEM[$ph.plugin_rss]=$(rss_kb "$op")
	MEM[$ph.plugin_anon]=$(anon_kb "$op")
	MEM[$ph.procs]=$(descendants "$wp" | wc -l)
	MEM[$ph.fds]=$(ls "/proc/$wp/fd" | wc -l)
	MEM[$ph.threads]=$(awk '/^Threads:/ { print $2 }' "/proc/$wp/status")
	log "(n4) $ph: worker daemon PSS $(fmt_mb "${MEM[$ph.pss]}"), network-overlay PSS $(fmt_mb "${MEM[$ph.plugin_pss]}"), ${MEM[$ph.procs]} processes under the daemon, ${MEM[$ph.fds]} open files"
}

create mem-plain "$W" "$MEM_TASKS"
mem_reading plain
remove mem-plain

out=$(hc "$MD" network create "$NET" 2>&1) || die "hive network create $NET failed:"$'\n'"$out"
NET_ID=$(hc "$MD" network inspect "$NET" | jq -r '.[0].id')
[[ -n $NET_ID && $NET_ID != null ]] || die "hive network inspect $NET gives no ID"
NS_M=hive-$M-$NET_ID
NS_W=hive-$W-$NET_ID

create mem-net "$W" "$MEM_TASKS" --network "$NET"
mem_reading net

# The kernel objects behind the network on each node, counted.
# kinds NS: "bridges vxlans veths" in network namespace NS.
kinds() {
	ip -n "$1" -j -d link show | jq -r '[.[] | .linkinfo.info_kind // ""] |
		"\(map(select(. == "bridge")) | length) \(map(select(. == "vxlan")) | length) \(map(select(. == "veth")) | length)"'
}
K_NS_W=$(own_netns "$W" | grep -c . || true)
K_NS_M=$(own_netns "$M" | grep -c . || true)
[[ -e /run/netns/$NS_W ]] || die "the worker has no namespace $NS_W for network $NET (has: $(own_netns "${NODES[@]}" | tr '\n' ' '))"
read -r K_BR K_VX K_VETH <<<"$(kinds "$NS_W")"
K_HOST_VX=$(own_vxlan "$DP_M" "$DP_W" | wc -l)
# One task's namespace: its interfaces on the network, nftables tables, and
# the daemon's sockets in it (the resolver).
tcid=$(docker ps -q --filter "label=hive.node.id=$W" --filter label=hive.service.name=mem-net --filter status=running | head -1)
tpid=$(cpid "$tcid")
taddr=$(hc "$MD" service ps mem-net --format json | jq -r --arg net "$NET_ID" --arg c "$(docker inspect -f '{{.Id}}' "$tcid")" \
	'.[] | select(.status.container_id == $c) | .networks[] | select(.network_id == $net) | .addresses[0]')
K_TASK_IF=$(nsenter -t "$tpid" -n ip -j addr show | jq --arg a "${taddr%/*}" '[.[] | select(any(.addr_info[]?; .local == $a))] | length')
if command -v nft >/dev/null; then
	tables=$(nsenter -t "$tpid" -n nft list tables) || die "nft list tables in the namespace of task container $tcid failed"
	K_TASK_NFT=$(grep -c . <<<"$tables" || true)
	K_TASK_NFT_NAMES=$(sed 's/^table //' <<<"$tables" | paste -sd, -)
else
	K_TASK_NFT="n/a (no nft here to count)"
	K_TASK_NFT_NAMES="n/a (no nft here to list them)"
fi
K_TASK_SOCK=$(nsenter -t "$tpid" -n ss -Htuanp | grep -c "pid=${PID[$WD]}," || true)
K_TASK_SOCK_WHAT=$(nsenter -t "$tpid" -n ss -Htuanp | grep "pid=${PID[$WD]}," | awk '{ print $1 " " $5 }' | sort | paste -sd, - || true)
log "(n4) worker: $K_NS_W namespace(s) for $NET ($K_BR bridge, $K_VX vxlan, $K_VETH veth for $MEM_TASKS tasks), manager (no task on it): $K_NS_M; per task: $K_TASK_IF interface on $NET, nftables $K_TASK_NFT_NAMES, daemon sockets $K_TASK_SOCK_WHAT"
remove mem-net
# The last task of the network on the worker is gone: hive should remove
# the worker's namespace of it.
until=$(deadline 30)
t0=$(now)
K_GONE=""
while [[ -e /run/netns/$NS_W ]]; do
	if past "$until"; then
		K_GONE="**still there** 30 s after the worker's last task on $NET was removed"
		break
	fi
	sleep "$POLL"
done
[[ -n $K_GONE ]] || K_GONE="removed by hive $(fmt_ms "$(ms "$t0" "$(now)")") after the worker's last task on $NET was gone"
log "(n4) the worker's namespace of $NET: $K_GONE"

# ---- (n1, n2) HTTP through the overlay --------------------------------------

# On the manager: the client and web; on the worker: far. Each a service on
# $NET with one task.
create client "$M" 1 --network "$NET"
create web "$M" 1 --network "$NET"
create far "$W" 1 --network "$NET"
cid=$(container client "$M")
CPID=$(cpid "$cid")
declare -A URL=()
URL[vip]="http://$(vip web)/"
URL[direct]="http://$(task_addr web)/"
URL[farvip]="http://$(vip far)/"
URL[far]="http://$(task_addr far)/"
for k in vip direct farvip far; do
	answers "$CPID" "${URL[$k]}"
done
[[ -e /run/netns/$NS_M && -e /run/netns/$NS_W ]] || die "no namespaces $NS_M and $NS_W for network $NET (have: $(own_netns "${NODES[@]}" | tr '\n' ' '))"
log "(n1, n2) client on the manager (pid $CPID); web: VIP ${URL[vip]}, task ${URL[direct]}; far (on the worker): VIP ${URL[farvip]}, task ${URL[far]}"

declare -A RPS=()      # "target mode" -> rates, one per run
declare -A RAT=()      # "what mode" -> ratios, one per run
declare -a VX_SAME=(0 0 0 0) VX_CROSS=(0 0 0 0)
targets=(vip direct far farvip)
for i in $(seq "$RUNS"); do
	# Each target SLICES times per run, 1/SLICES of the requests each time,
	# in turns that read the same backwards (A B C D D C B A ...), starting
	# from the other end every other run: the load of whatever else runs on
	# the machine weighs on all targets alike, and no target always goes
	# first.
	if ((i % 2)); then fwd=("${targets[@]}"); else fwd=(farvip far direct vip); fi
	order=()
	for ((j = 0; j < SLICES; j += 2)); do
		order+=("${fwd[@]}" "${fwd[3]}" "${fwd[2]}" "${fwd[1]}" "${fwd[0]}")
	done
	declare -A r=() tot=()
	for mode in keep new; do
		for k in "${order[@]}"; do
			alive "$MD" "during the load runs"
			alive "$WD" "during the load runs"
			c0=$(vx)
			out=$(load "$CPID" "${URL[$k]}" "$mode" $(($(per "$mode") / SLICES)))
			c1=$(vx)
			read -r -a before <<<"$c0"
			read -r -a after <<<"$c1"
			for j in 0 1 2 3; do
				if [[ $k == far* ]]; then
					VX_CROSS[j]=$((VX_CROSS[j] + after[j] - before[j]))
				else
					VX_SAME[j]=$((VX_SAME[j] + after[j] - before[j]))
				fi
			done
			tot[$k $mode]=$(awk -v t="${tot[$k $mode]:-0 0}" '{ split(t, a, " "); print a[1] + $1, a[2] + $2 }' <<<"$out")
		done
		for k in "${targets[@]}"; do
			r[$k $mode]=$(rate "${tot[$k $mode]}")
			RPS[$k $mode]+=" ${r[$k $mode]}"
		done
		RAT[vip $mode]+=" $(ratio "${r[vip $mode]}" "${r[direct $mode]}")"
		RAT[cross $mode]+=" $(ratio "${r[far $mode]}" "${r[direct $mode]}")"
		RAT[farvip $mode]+=" $(ratio "${r[farvip $mode]}" "${r[far $mode]}")"
	done
	log "(n1) run $i: keep-alive VIP $(fmt_rps "${r[vip keep]}"), direct $(fmt_rps "${r[direct keep]}") ($(ratio "${r[vip keep]}" "${r[direct keep]}")); new connections VIP $(fmt_rps "${r[vip new]}"), direct $(fmt_rps "${r[direct new]}") ($(ratio "${r[vip new]}" "${r[direct new]}"))"
	log "(n2) run $i: keep-alive cross-node $(fmt_rps "${r[far keep]}") ($(ratio "${r[far keep]}" "${r[direct keep]}") of same-node), its VIP $(fmt_rps "${r[farvip keep]}"); new connections cross-node $(fmt_rps "${r[far new]}"), its VIP $(fmt_rps "${r[farvip new]}")"
	unset r tot
done
log "(n2) vxlan0 packets during the cross-node runs: manager tx +${VX_CROSS[0]} rx +${VX_CROSS[1]}, worker tx +${VX_CROSS[2]} rx +${VX_CROSS[3]}; during the same-node runs: manager tx +${VX_SAME[0]} rx +${VX_SAME[1]}, worker tx +${VX_SAME[2]} rx +${VX_SAME[3]}"

# ---- (n3) a new task's name resolving in another task -----------------------

declare -a N3_TASKS=() N3_NAME=() N3_START=() N3_CREATE=() N3_TASKS_CREATE=()
for i in $(seq "$RUNS"); do
	svc=dns$i
	probe_start "$CPID" "tasks.$svc" "$svc"
	t0=$(now)
	out=$(hc "$MD" service create -d --name "$svc" --network "$NET" --constraint "node.id==$W" "$IMAGE" 2>&1) ||
		die "hive service create $svc failed:"$'\n'"$out"
	probe_wait
	cid=$(container "$svc" "$W")
	st=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
	st=$(rfc3339_ns "$st")
	N3_TASKS+=("$(ms "$st" "${PROBE_AT[tasks.$svc]}")")
	N3_NAME+=("$(ms "$st" "${PROBE_AT[$svc]}")")
	N3_START+=("$(ms "$t0" "$st")")
	N3_CREATE+=("$(ms "$t0" "${PROBE_AT[$svc]}")")
	N3_TASKS_CREATE+=("$(ms "$t0" "${PROBE_AT[tasks.$svc]}")")
	log "(n3) run $i: service create → container started $(fmt_ms "${N3_START[-1]}"); tasks.$svc answered $(fmt_ms "${N3_TASKS[-1]}") after the container started ($(fmt_ms "${N3_TASKS_CREATE[-1]}") after create), $svc $(fmt_ms "${N3_NAME[-1]}") ($(fmt_ms "${N3_CREATE[-1]}") after create)"
	remove "$svc"
done

# ---- tear the nodes down, checking what hive leaves ---------------------------

for svc in client web far; do
	remove "$svc"
done
out=$(hc "$MD" network rm "$NET" 2>&1) || die "hive network rm $NET failed:"$'\n'"$out"
until=$(deadline 30)
while [[ -n $(own_netns "${NODES[@]}") ]]; do
	past "$until" && break
	sleep "$POLL"
done
LEFT_NETNS=$(own_netns "${NODES[@]}" | paste -sd' ' -)
for dir in "$MD" "$WD"; do
	stop_node "$dir"
done
sleep 0.5
LEFT_AFTER_DOWN=$(own_netns "${NODES[@]}" | paste -sd' ' -)
LEFT_VXLAN=$(own_vxlan "$DP_M" "$DP_W" | paste -sd' ' -)
LEFT_UDP=$( (ss -Huln "sport = :$DP_M"; ss -Huln "sport = :$DP_W") | awk '{ print $4 }' | paste -sd' ' -)
if [[ -z $LEFT_NETNS$LEFT_AFTER_DOWN$LEFT_VXLAN$LEFT_UDP ]]; then
	LEFTOVERS="none: once its services and the network were removed, hive removed both nodes' namespaces of $NET, and after \`hive down\` no namespace of either node, no VXLAN device and no socket on ports $DP_M/$DP_W remained"
else
	LEFTOVERS="**left behind** with the services and the network removed and both nodes down: namespaces ${LEFT_AFTER_DOWN:-none} (before \`hive down\`: ${LEFT_NETNS:-none}), VXLAN devices ${LEFT_VXLAN:-none}, UDP sockets ${LEFT_UDP:-none}; the cleanup removes them"
fi
log "leftovers: $LEFTOVERS"

# ---- Swarm baselines: the overlay's direct path and its resolver -------------

declare -a S_KEEP=() S_NEW=() S_TASKS=() S_NAME=() S_START=()
if [[ -z $SWARM_ERR ]]; then
	DP_S=$(free_udp $((DP_W + 1)))
	SWARM_OURS=1
	if ! out=$(docker swarm init --advertise-addr 127.0.0.1 --data-path-port "$DP_S" 2>&1); then
		SWARM_ERR="docker swarm init --advertise-addr 127.0.0.1 --data-path-port $DP_S failed: ${out//$'\n'/ }"
		swarm_leave
	fi
fi
if [[ -z $SWARM_ERR ]]; then
	log "swarm: mode on (VXLAN port $DP_S), overlay network $SWARM_NET"
	out=$(docker network create -d overlay "$SWARM_NET" 2>&1) || die "docker network create -d overlay $SWARM_NET failed: $out"
	# dnsrr: a Swarm VIP needs IPVS, which this script does not assume.
	for svc in sclient sweb; do
		SWARM_SVCS+=("$SWARM_NET-$svc")
		out=$(docker service create -d --name "$SWARM_NET-$svc" --network "$SWARM_NET" --endpoint-mode dnsrr "$IMAGE" 2>&1) ||
			die "docker service create $SWARM_NET-$svc failed: $out"
	done
	scid=$(swarm_running "$SWARM_NET-sclient")
	SPID=$(cpid "$scid")
	scid=$(swarm_running "$SWARM_NET-sweb")
	sip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$SWARM_NET\").IPAddress}}" "$scid")
	[[ -n $sip ]] || die "the swarm web container $scid has no address on $SWARM_NET"
	answers "$SPID" "http://$sip/"
	for i in $(seq "$RUNS"); do
		out=$(load "$SPID" "http://$sip/" keep "$REQUESTS")
		S_KEEP+=("$(rate "$out")")
		out=$(load "$SPID" "http://$sip/" new "$NEW_REQUESTS")
		S_NEW+=("$(rate "$out")")
		log "swarm run $i: same-node direct over its overlay: keep-alive $(fmt_rps "${S_KEEP[-1]}"), new connections $(fmt_rps "${S_NEW[-1]}")"
	done
	for i in $(seq "$RUNS"); do
		svc=$SWARM_NET-dns$i
		probe_start "$SPID" "tasks.$svc" "$svc"
		SWARM_SVCS+=("$svc")
		t0=$(now)
		out=$(docker service create -d --name "$svc" --network "$SWARM_NET" --endpoint-mode dnsrr "$IMAGE" 2>&1) ||
			die "docker service create $svc failed: $out"
		probe_wait
		scid=$(swarm_running "$svc")
		st=$(docker inspect -f '{{.State.StartedAt}}' "$scid")
		st=$(rfc3339_ns "$st")
		S_TASKS+=("$(ms "$st" "${PROBE_AT[tasks.$svc]}")")
		S_NAME+=("$(ms "$st" "${PROBE_AT[$svc]}")")
		S_START+=("$(ms "$t0" "$st")")
		log "swarm run $i: service create → container started $(fmt_ms "${S_START[-1]}"); tasks.NAME answered $(fmt_ms "${S_TASKS[-1]}") after the container started, NAME $(fmt_ms "${S_NAME[-1]}")"
		swarm_remove "$svc"
	done
	for svc in sclient sweb; do
		swarm_remove "$SWARM_NET-$svc"
	done
	docker network rm "$SWARM_NET" >/dev/null || die "docker network rm $SWARM_NET failed"
	swarm_leave
	drop_gwbridge
else
	log "swarm baselines not measured: $SWARM_ERR"
fi
if [[ -e /proc/net/ip_vs ]]; then
	SWARM_VIP="Swarm's VIP (IPVS) is not measured: this script uses dnsrr services in swarm mode, so that it runs on kernels without IPVS too."
else
	SWARM_VIP="Swarm's VIP needs the kernel's IPVS, which this kernel lacks (/proc/net/ip_vs missing): a Swarm service's VIP never answers here, so there is no Swarm VIP figure; and with one Docker Engine there is one swarm node, so no Swarm cross-node figure either."
fi

# ---- report ----------------------------------------------------------------

# sr "TARGET MODE": "median min max" of its rates.
sr() { stats ${RPS[$1]}; }
# rr "WHAT MODE": "median min max" of its per-run ratios.
rr() { rstats ${RAT[$1]}; }

read -r vk vk_min vk_max <<<"$(sr "vip keep")"
read -r dk dk_min dk_max <<<"$(sr "direct keep")"
read -r fk fk_min fk_max <<<"$(sr "far keep")"
read -r fvk fvk_min fvk_max <<<"$(sr "farvip keep")"
read -r vn vn_min vn_max <<<"$(sr "vip new")"
read -r dn dn_min dn_max <<<"$(sr "direct new")"
read -r fn fn_min fn_max <<<"$(sr "far new")"
read -r fvn fvn_min fvn_max <<<"$(sr "farvip new")"
read -r rvk rvk_min rvk_max <<<"$(rr "vip keep")"
read -r rvn rvn_min rvn_max <<<"$(rr "vip new")"
read -r rck rck_min rck_max <<<"$(rr "cross keep")"
read -r rcn rcn_min rcn_max <<<"$(rr "cross new")"
read -r rfk rfk_min rfk_max <<<"$(rr "farvip keep")"
read -r rfn rfn_min rfn_max <<<"$(rr "farvip new")"
read -r n3 n3_min n3_max <<<"$(stats "${N3_TASKS[@]}")"
read -r n3n n3n_min n3n_max <<<"$(stats "${N3_NAME[@]}")"
read -r n3s n3s_min n3s_max <<<"$(stats "${N3_START[@]}")"
read -r n3c n3c_min n3c_max <<<"$(stats "${N3_CREATE[@]}")"
read -r n3tc n3tc_min n3tc_max <<<"$(stats "${N3_TASKS_CREATE[@]}")"
if ((${#S_KEEP[@]})); then
	read -r swk swk_min swk_max <<<"$(stats "${S_KEEP[@]}")"
	read -r swn swn_min swn_max <<<"$(stats "${S_NEW[@]}")"
	read -r swt swt_min swt_max <<<"$(stats "${S_TASKS[@]}")"
	read -r swtn swtn_min swtn_max <<<"$(stats "${S_NAME[@]}")"
	read -r sws sws_min sws_max <<<"$(stats "${S_START[@]}")"
fi
d_pss=$((MEM[net.pss] - MEM[plain.pss]))
d_rss=$((MEM[net.rss] - MEM[plain.rss]))
d_anon=$((MEM[net.anon] - MEM[plain.anon]))
d_mpss=$((MEM[net.mpss] - MEM[plain.mpss]))
d_procs=$((MEM[net.procs] - MEM[plain.procs]))
d_fds=$((MEM[net.fds] - MEM[plain.fds]))
d_threads=$((MEM[net.threads] - MEM[plain.threads]))
n4_total=$((MEM[net.plugin_pss] + d_pss))
VXC="manager's vxlan0 tx +${VX_CROSS[0]} / rx +${VX_CROSS[1]} packets, worker's tx +${VX_CROSS[2]} / rx +${VX_CROSS[3]}"
VXS="manager's tx +${VX_SAME[0]} / rx +${VX_SAME[1]}, worker's tx +${VX_SAME[2]} / rx +${VX_SAME[3]}"
cross_reqs=$((RUNS * 2 * (REQUESTS + NEW_REQUESTS + 2 * SLICES * CONNS)))

table() {
	echo "| benchmark | hive | baseline (same run) | ratio | goal |"
	echo "|---|---|---|---|---|"
	echo "| (n1) same node, $CONNS keep-alive connections: through the service's VIP vs straight to its task's overlay address | $(fmt_rps "$vk") | direct: $(fmt_rps "$dk") | $rvk | ≥ 0.95: $(met "$(atleast "$rvk" 0.95)") |"
	echo "| (n1′) same, a new connection per request | $(fmt_rps "$vn") | direct: $(fmt_rps "$dn") | $rvn | ≥ 0.95: $(met "$(atleast "$rvn" 0.95)") |"
	echo "| (n2) cross-node vs same-node, keep-alive, to the task's overlay address (over VXLAN: $VXC) | $(fmt_rps "$fk") | same-node direct (n1): $(fmt_rps "$dk") | $rck | — |"
	echo "| (n2′) same, a new connection per request | $(fmt_rps "$fn") | same-node direct (n1′): $(fmt_rps "$dn") | $rcn | — |"
	echo "| (n3) a task's container started → \`tasks.NAME\` answers in a task on the other node | $(fmt_ms "$n3") ($(fmt_ms "$n3tc") from \`service create\`) | \`hive service create -d\` → the container started: $(fmt_ms "$n3s")$(if [[ -n ${swt:-} ]]; then echo "; Swarm (dnsrr, same measure): $(fmt_ms "$swt")"; fi) | $(if [[ -n ${swt:-} ]]; then echo "$(ratio "$n3" "$swt") of Swarm"; else echo "—"; fi) | < 1 s: $(met "$(below "$n3" 1000)") |"
	echo "| (n4) per node: the network-overlay plugin's PSS + the daemon's PSS with $MEM_TASKS tasks on a network minus on none | $(fmt_mb "$n4_total") ($(fmt_mb "${MEM[net.plugin_pss]}") + $(fmt_mb "$d_pss")); 1 extra process, the plugin (it runs whether or not a network is used), $(printf '%+d' "$d_procs") with the network | the daemon with $MEM_TASKS tasks on no network: $(fmt_mb "${MEM[plain.pss]}") | — | — |"
	echo "| (n4′) kernel objects per network per node | $K_NS_W netns, $K_BR bridge, $K_VX vxlan; per task $((K_VETH / MEM_TASKS)) veth pair, $K_TASK_NFT nftables table, $K_TASK_SOCK resolver sockets | a node with no task on the network: $K_NS_M netns | — | — |"
	if ((${#S_KEEP[@]})); then
		echo "| (s) Swarm's overlay, same node, straight to the task (dnsrr), vs hive's (n1) direct | hive: $(fmt_rps "$dk") keep-alive, $(fmt_rps "$dn") new connections | Swarm: $(fmt_rps "$swk"), $(fmt_rps "$swn") | $(ratio "$dk" "$swk"), $(ratio "$dn" "$swn") | — |"
	fi
}

details() {
	echo "Each figure is the median of $RUNS runs; min–max:"
	echo
	echo "- (n1) keep-alive ($REQUESTS requests over $CONNS connections per target and run, in $SLICES slices): VIP $(range_rps "$vk_min" "$vk_max"), direct $(range_rps "$dk_min" "$dk_max"), VIP/direct within each run $rvk_min–$rvk_max; a new connection per request ($NEW_REQUESTS requests per target and run, $CONNS at a time): VIP $(range_rps "$vn_min" "$vn_max"), direct $(range_rps "$dn_min" "$dn_max"), VIP/direct within each run $rvn_min–$rvn_max. The client is a task of its own on the manager, bench/load running in its network namespace (\`nsenter -t PID -n\`); in each run the four targets (VIP, direct, cross-node direct, cross-node VIP) were measured in turn $SLICES times, 1/$SLICES of the requests each time, in the order A B C D D C B A …, every other run from the other end; each target's rate is its requests over its time in the run"
	echo "- (n2) cross-node, to the far task's overlay address: keep-alive $(range_rps "$fk_min" "$fk_max"), cross/same within each run $rck_min–$rck_max; new connections $(range_rps "$fn_min" "$fn_max"), $rcn_min–$rcn_max. Through the far service's VIP: keep-alive $(fmt_rps "$fvk") ($(range_rps "$fvk_min" "$fvk_max")), $rfk ($rfk_min–$rfk_max) of its direct figure; new connections $(fmt_rps "$fvn") ($(range_rps "$fvn_min" "$fvn_max")), $rfn ($rfn_min–$rfn_max)"
	echo "- (n2) VXLAN: during the cross-node runs (about $cross_reqs requests with the warm-ups) the $VXC (counters of \`ip -n hive-NODE-NETWORK -s link show vxlan0\`); during the same-node runs the $VXS"
	echo "- (n3) \`tasks.NAME\` answered $(range_ms "$n3_min" "$n3_max") after the container's \`.State.StartedAt\`, $(fmt_ms "$n3tc") ($(range_ms "$n3tc_min" "$n3tc_max")) after \`hive service create -d\` began; \`NAME\` (the VIP, allocated with the service) answered $(fmt_ms "$n3c") ($(range_ms "$n3c_min" "$n3c_max")) after create began, $(fmt_ms "$n3n") ($(range_ms "$n3n_min" "$n3n_max")) from the container's start (negative: before it); create → container started $(range_ms "$n3s_min" "$n3s_max"). The new service's one task runs on the worker, the asking task on the manager; dnsprobe asks every $PROBE_EVERY, so a figure can be late by one interval"
	if ((${#S_KEEP[@]})); then
		echo "- (n3) Swarm, the same measure in a swarm service's task (dnsrr, one node): \`tasks.NAME\` $(fmt_ms "$swt") ($(range_ms "$swt_min" "$swt_max")) after the container started, \`NAME\` $(fmt_ms "$swtn") ($(range_ms "$swtn_min" "$swtn_max")); \`docker service create -d\` → the container started $(fmt_ms "$sws") ($(range_ms "$sws_min" "$sws_max"))"
		echo "- (s) Swarm's overlay, same node, keep-alive $(range_rps "$swk_min" "$swk_max"), new connections $(range_rps "$swn_min" "$swn_max"), measured after hive's nodes were stopped"
	fi
	echo "- (n4) the worker, ${IDLE} s idle after $MEM_TASKS tasks of one service started on it, once with no network, then (another service) on one: daemon PSS $(fmt_mb "${MEM[plain.pss]}") → $(fmt_mb "${MEM[net.pss]}") ($(fmt_mb "$d_pss")), VmRSS $(fmt_mb "$d_rss"), RssAnon $(fmt_mb "$d_anon"), threads $d_threads, open files +$d_fds; network-overlay plugin PSS $(fmt_mb "${MEM[plain.plugin_pss]}") with no network in use → $(fmt_mb "${MEM[net.plugin_pss]}") (VmRSS $(fmt_mb "${MEM[net.plugin_rss]}"), RssAnon $(fmt_mb "${MEM[net.plugin_anon]}")); the plugin runs from the node's start whether or not a network is used, and processes under the daemon went ${MEM[plain.procs]} → ${MEM[net.procs]}; the manager's daemon (no task on the network, computes the nodes' views) $(fmt_mb "$d_mpss") PSS between the two readings. One reading each: a Go heap's size at one moment, so treat the daemon's difference as an order of magnitude"
	echo "- (n4′) counted with $MEM_TASKS tasks on the network on the worker: in its namespace \`$NS_W\` $K_BR bridge, $K_VX vxlan, $K_VETH veths; $K_HOST_VX VXLAN device of the run's ports left in the host namespace; in one task's namespace $K_TASK_IF interface with its address on the network, nftables tables: ${K_TASK_NFT_NAMES:-none}, sockets of the hive daemon: ${K_TASK_SOCK_WHAT:-none}. After the last task on it went, the worker's namespace was $K_GONE"
	echo "- cleanup: $LEFTOVERS"
	if [[ -n $SWARM_ERR ]]; then
		echo "- Swarm baselines not measured: $SWARM_ERR"
	fi
	echo "- $SWARM_VIP"
}

report=$(
	report_head "hive overlay network benchmark results"
	echo "- nodes: a manager on $IP_M (VXLAN port $DP_M) and a worker on $IP_W (VXLAN port $DP_W), hive processes of this machine, one Docker Engine shared"
	report_load "$LOAD_START"
	echo "- command: \`$COMMAND\`"
	echo
	table
	echo
	details
)
publish "$report"
