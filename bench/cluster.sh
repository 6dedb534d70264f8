#!/usr/bin/env bash
# bench/cluster.sh: hive's multi-node benchmarks. Clusters of hive processes
# on loopback addresses (127.0.0.200-250) of this one machine, sharing its
# Docker Engine: a leader killed, a worker killed, a worker joining, and the
# routing mesh through a node with no task. Each figure stands beside what
# can be measured as a baseline in the same run; the table goes to stdout and
# to bench/cluster-results.md. See bench/README.md.
#
#   bench/cluster.sh                  # from the repository root, after make build testimage
#   HIVE_TEST_BIN=/path/to/hive BENCH_RUNS=5 bench/cluster.sh
#
# Environment:
#   HIVE_TEST_BIN    hive binary (default: bin/hive of this repository)
#   BENCH_RUNS       repetitions of each timing; the median is reported (default 3)
#   BENCH_CONVERGE   seconds a failover may take before it counts as not converged (default 60)
#   BENCH_REQUESTS   requests per load run through the mesh (default 20000)
#   BENCH_CONNS      keep-alive connections of each load run (default 4)
#
# The script only touches what it made: hive daemons on fresh data dirs in a
# temp dir (found again by the PID in their hive.lock), the containers of
# their node IDs, and containers labelled with its run ID. An EXIT trap undoes
# all of it, whether the run ends well, fails or is interrupted.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=cluster-bench
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
RUNS=${BENCH_RUNS:-3}
CONVERGE=${BENCH_CONVERGE:-60}
REQUESTS=${BENCH_REQUESTS:-20000}
CONNS=${BENCH_CONNS:-4}
IMAGE=hive-test/web:v1
REPLICAS=6         # the worker-kill service, spread over three nodes
POLL=0.05          # seconds between polls
TIMEOUT=120        # seconds a set-up wait may take before the run fails
CLI_TIMEOUT=20     # seconds one hive CLI call may take
GOBENCH=(go test -run '^$' -bench MeshRemoteVsDirect -benchtime 20000x ./core/mesh/)
RESULTS=$here/cluster-results.md
COMMAND="HIVE_TEST_BIN=$HIVE BENCH_RUNS=$RUNS BENCH_CONVERGE=$CONVERGE BENCH_REQUESTS=$REQUESTS BENCH_CONNS=$CONNS ${BASH_SOURCE[0]}${*:+ $*}"

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
NEXT_IP=200            # the next loopback address to hand out, 200..250
NODE_SEQ=0

cleanup() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +e
	log "cleaning up"
	local dir node
	for dir in "${DIRS[@]}"; do
		stop_node "$dir"
	done
	for node in "${NODES[@]}"; do
		rm_containers "label=hive.node.id=$node"
	done
	rm_containers "label=hive.bench.run=$RUN_ID"
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

# next_addr: set NEXT_ADDR to the next loopback address of 127.0.0.200-250,
# with a free port.
next_addr() {
	local ip=127.0.0.$NEXT_IP port
	NEXT_IP=$((NEXT_IP >= 250 ? 200 : NEXT_IP + 1))
	port=$(free_port)
	NEXT_ADDR=$ip:$port
}

# ---- hive nodes --------------------------------------------------------

# hard_kill DIR: kill -9 the daemon of DIR and its plugin processes at once,
# as a dying host would.
hard_kill() {
	local dir=$1 pid kids
	pid=$(daemon_pid "$dir")
	[[ -n $pid ]] || die "the hive daemon on $dir is not running, so it cannot be killed"
	kids=$(children "$pid")
	kill -9 "$pid" $kids 2>/dev/null || true
}

# remove_containers: remove the containers of every node this run made.
remove_containers() {
	local node
	for node in "${NODES[@]}"; do
		rm_containers "label=hive.node.id=$node" || die "docker rm -f of node $node's containers failed"
	done
}

# teardown: stop every node still up and remove all their containers.
teardown() {
	local dir
	for dir in "${DIRS[@]}"; do
		stop_node "$dir"
	done
	remove_containers
}

# new_node: set NEW_DIR to a fresh data dir for the next node, which the
# cleanup then knows of, and NEXT_ADDR to its cluster address.
new_node() {
	NODE_SEQ=$((NODE_SEQ + 1))
	NEW_DIR=$TMP/node$NODE_SEQ
	DIRS+=("$NEW_DIR")
	next_addr
}

# up_manager: start a new cluster's first manager; sets UP_DIR to its data dir.
up_manager() {
	local dir addr out
	new_node
	dir=$NEW_DIR addr=$NEXT_ADDR
	out=$("$HIVE" up -d --config "$TMP/hive.yaml" --data-dir "$dir" -H "unix://$dir/hive.sock" \
		--listen-addr "$addr" 2>&1) || die "hive up -d --listen-addr $addr failed:"$'\n'"$out"
	started "$dir" "$addr"
	UP_DIR=$dir
}

# join ROLE MANAGER_DIR: join a new node with a ROLE token of the cluster
# MANAGER_DIR belongs to; sets JOIN_DIR, and JOIN_MS to how long
# 'hive join -d' took and JOIN_T0 to when it began.
join() {
	local role=$1 mdir=$2 dir addr token out t0
	token=$(hc "$mdir" join-token "$role" -q 2>&1) || die "hive join-token $role -q failed:"$'\n'"$token"
	new_node
	dir=$NEW_DIR addr=$NEXT_ADDR
	t0=$(now)
	out=$("$HIVE" join -d --config "$TMP/hive.yaml" --token "$token" --data-dir "$dir" -H "unix://$dir/hive.sock" \
		--listen-addr "$addr" "${ADDR[$mdir]}" 2>&1) ||
		die "hive join -d --listen-addr $addr ${ADDR[$mdir]} ($role) failed:"$'\n'"$out"
	JOIN_MS=$(ms "$t0" "$(now)")
	JOIN_T0=$t0
	started "$dir" "$addr"
	JOIN_DIR=$dir
}

# wait_managers DIR N: poll until the Raft group seen from DIR has N
# reachable voters and a leader.
wait_managers() {
	local dir=$1 want=$2 until
	until=$(deadline)
	until hc "$dir" cluster status --format json 2>/dev/null |
		jq -e --argjson n "$want" '(.leader_id // "") != "" and ([.members[] | select(.voter and .reachable)] | length) == $n' >/dev/null; do
		alive "$dir" "waiting for $want managers"
		past "$until" && die "the Raft group has not $want reachable voters after ${TIMEOUT}s:"$'\n'"$(hc "$dir" cluster status 2>&1)"
		sleep "$POLL"
	done
}

# ---- preflight ---------------------------------------------------------

[[ $# -eq 0 ]] || die "usage: [HIVE_TEST_BIN=bin/hive] [BENCH_RUNS=3] [BENCH_CONVERGE=60] [BENCH_REQUESTS=20000] [BENCH_CONNS=4] $0 (no arguments)"
need_count BENCH_RUNS "$RUNS" runs
need_count BENCH_CONVERGE "$CONVERGE" seconds
need_count BENCH_REQUESTS "$REQUESTS" requests
need_count BENCH_CONNS "$CONNS" connections
((CONNS <= REQUESTS)) || die "BENCH_CONNS=$CONNS is more than BENCH_REQUESTS=$REQUESTS"
need_hive
need_tools docker jq awk ss go timeout
need_ns_date
need_engine "$IMAGE"

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
TMP=$(mktemp -d /tmp/hive-cluster-bench.XXXXXX)
: >"$TMP/hive.yaml" # an empty config: no hive.yaml of the search path applies
log "run $RUN_ID in $TMP, $RUNS run(s) of each figure"

log "building the load generator (bench/load)"
out=$(cd "$repo" && go build -o "$TMP/load" ./bench/load 2>&1) || die "go build ./bench/load failed:"$'\n'"$out"
LOAD=$TMP/load

# ---- (i) the mesh, in process: the Go benchmark ---------------------------

log "(i) ${GOBENCH[*]} (about a minute)"
GO_OUT=$(cd "$repo" && "${GOBENCH[@]}" 2>&1) || die "the Go benchmark failed:"$'\n'"$GO_OUT"
# gometric CASE UNIT: the metric UNIT of sub-benchmark CASE.
gometric() {
	awk -v c="BenchmarkMeshRemoteVsDirect/$1-" -v u="$2" 'index($1, c) == 1 {
		for (i = 3; i < NF; i++) if ($(i + 1) == u) { print $i; exit } }' <<<"$GO_OUT"
}
for c in keepalive new_conn 1MiB; do
	[[ -n $(gometric "$c" remote/direct) ]] || die "the Go benchmark printed no remote/direct for $c:"$'\n'"$GO_OUT"
	log "(i) Go benchmark $c: remote/direct $(gometric "$c" remote/direct), direct $(gometric "$c" direct_req/s) req/s, remote $(gometric "$c" remote_req/s) req/s"
done

# ---- (f) leader kill -> API writable again ---------------------------------

declare -a F_KILL=() F_BASE=() F_LEADER=()
F_FAIL=""
for i in $(seq "$RUNS"); do
	up_manager
	m1=$UP_DIR
	wait_leader "$m1"
	join manager "$m1"
	m2=$JOIN_DIR
	join manager "$m1"
	m3=$JOIN_DIR
	wait_managers "$m1" 3
	leader_id=$(hc "$m1" cluster status --format json | jq -r .leader_id)
	leader="" survivor=""
	for d in "$m1" "$m2" "$m3"; do
		if [[ ${NODE[$d]} == "$leader_id" ]]; then leader=$d; elif [[ -z $survivor ]]; then survivor=$d; fi
	done
	[[ -n $leader && -n $survivor ]] || die "the leader $leader_id is none of the three managers this run started"

	# Baseline: the same write on the same manager, with the cluster whole.
	t0=$(now)
	out=$(hc "$survivor" service create -d --name "base-$i" --replicas 1 "$IMAGE" 2>&1) ||
		die "hive service create on a follower of a healthy cluster failed:"$'\n'"$out"
	F_BASE+=("$(ms "$t0" "$(now)")")

	hard_kill "$leader"
	t0=$(now)
	until=$(deadline "$CONVERGE")
	tries=0 elected=""
	while :; do
		if [[ -z $elected ]] && hc "$survivor" cluster status --format json 2>/dev/null |
			jq -e --arg old "$leader_id" '(.leader_id // "") != "" and .leader_id != $old' >/dev/null; then
			elected=$(ms "$t0" "$(now)")
		fi
		tries=$((tries + 1))
		# A new name each try: a try that timed out may still have been applied.
		if out=$(hc "$survivor" service create -d --name "after-$i-$tries" --replicas 1 "$IMAGE" 2>&1); then
			t=$(ms "$t0" "$(now)")
			break
		fi
		alive "$survivor" "after the leader was killed"
		if past "$until"; then
			t=""
			F_FAIL="no write succeeded within ${CONVERGE}s of the leader's death (last error: ${out//$'\n'/ })"
			break
		fi
		sleep "$POLL"
	done
	if [[ -z $t ]]; then
		log "(f) run $i: $F_FAIL"
		teardown
		break
	fi
	# Elected between the last look and the write: the write's time bounds it.
	[[ -n $elected ]] || elected=$t
	F_KILL+=("$t")
	F_LEADER+=("$elected")
	log "(f) run $i: healthy write $(fmt_ms "${F_BASE[-1]}"); leader killed -> new leader seen within $(fmt_ms "$elected"), write accepted after $(fmt_ms "$t") ($tries tries)"
	teardown
done

# ---- (g) worker kill -> all replacements running ---------------------------

declare -a G_KILL=() G_BASE=() G_DOWN=()
G_FAIL="" G_MOVED=""
for i in $(seq "$RUNS"); do
	up_manager
	m=$UP_DIR
	wait_leader "$m"
	join worker "$m"
	w1=$JOIN_DIR
	join worker "$m"
	w2=$JOIN_DIR
	wait_nodes "$m" 3
	svc=spread-$i
	out=$(hc "$m" service create -d --name "$svc" --replicas "$REPLICAS" "$IMAGE" 2>&1) ||
		die "hive service create $svc failed:"$'\n'"$out"
	until=$(deadline)
	while n=$(running_tasks "$m" "$svc"); ((n < REPLICAS)); do
		alive "$m" "waiting for $svc"
		past "$until" && die "$svc: only $n of $REPLICAS tasks running after ${TIMEOUT}s:"$'\n'"$(hc "$m" service ps "$svc" 2>&1)"
		sleep "$POLL"
	done
	victim=${NODE[$w1]}
	moved=$(count --filter "label=hive.node.id=$victim" --filter "label=hive.service.name=$svc" --filter status=running)
	((moved > 0)) || die "$svc: no task runs on the worker to be killed; the spread scheduler placed them:"$'\n'"$(hc "$m" service ps "$svc" 2>&1)"
	G_MOVED=$moved

	# Baseline: the engine alone starting as many containers, one after
	# another: the floor under any orchestrator's replacement.
	t0=$(now)
	for r in $(seq "$moved"); do
		docker run -d --label hive.bench=1 --label "hive.bench.run=$RUN_ID" "$IMAGE" >/dev/null ||
			die "docker run -d $IMAGE failed"
	done
	G_BASE+=("$(ms "$t0" "$(now)")")
	docker rm -f $(docker ps -aq --filter "label=hive.bench.run=$RUN_ID") >/dev/null

	t0=$(now)
	hard_kill "$w1"
	ids=$(docker ps -q --filter "label=hive.node.id=$victim")
	[[ -z $ids ]] || docker kill $ids >/dev/null || die "docker kill of the dead worker's containers failed"
	until=$(deadline "$CONVERGE")
	down="" t=""
	while :; do
		n=$(running_tasks "$m" "$svc" "$victim")
		c=$(count --filter "label=hive.service.name=$svc" --filter status=running)
		if ((n >= REPLICAS && c >= REPLICAS)); then
			t=$(ms "$t0" "$(now)")
			break
		fi
		if [[ -z $down ]] && hc "$m" node ls --format json 2>/dev/null |
			jq -e --arg id "$victim" '.[] | select(.id == $id) | .status.state == "down"' >/dev/null; then
			down=$(ms "$t0" "$(now)")
		fi
		alive "$m" "after the worker was killed"
		if past "$until"; then
			G_FAIL="not converged: after ${CONVERGE}s hive showed $n of $REPLICAS tasks running on the surviving nodes ($c containers of the service running per the engine); the dead worker $(if [[ -n $down ]]; then echo "was marked down after $(fmt_ms "$down")"; else echo "was never marked down"; fi)"
			break
		fi
		sleep "$POLL"
	done
	[[ -z $down ]] || G_DOWN+=("$down")
	if [[ -z $t ]]; then
		log "(g) run $i: $G_FAIL; not repeating this benchmark"
		teardown
		break
	fi
	G_KILL+=("$t")
	log "(g) run $i: worker with $moved of $REPLICAS tasks killed -> marked down after $(fmt_ms "${down:-$t}"), $REPLICAS running on the survivors after $(fmt_ms "$t"); $moved x docker run -d: $(fmt_ms "${G_BASE[-1]}")"
	teardown
done

# ---- (h) join a worker until Ready -----------------------------------------

declare -a H_JOIN=() H_READY=()
for i in $(seq "$RUNS"); do
	up_manager
	m=$UP_DIR
	wait_leader "$m"
	wait_nodes "$m" 1
	join worker "$m"
	w=$JOIN_DIR
	until=$(deadline)
	until hc "$m" node ls --format json 2>/dev/null |
		jq -e --arg id "${NODE[$w]}" '.[] | select(.id == $id) | .status.state == "ready"' >/dev/null; do
		alive "$w" "waiting for the joined worker to be ready"
		past "$until" && die "the joined worker ${NODE[$w]} is not ready after ${TIMEOUT}s:"$'\n'"$(hc "$m" node ls 2>&1)"
		sleep "$POLL"
	done
	t=$(ms "$JOIN_T0" "$(now)")
	H_JOIN+=("$JOIN_MS")
	H_READY+=("$t")
	log "(h) run $i: hive join -d returned after $(fmt_ms "$JOIN_MS"), node ready after $(fmt_ms "$t")"
	teardown
done

# ---- (i) the mesh, end to end ------------------------------------------------

# Node B, the manager, runs no task of the service; node A, the worker, runs
# its only task. B's published port forwards every connection to A.
up_manager
nb=$UP_DIR
wait_leader "$nb"
join worker "$nb"
na=$JOIN_DIR
wait_nodes "$nb" 2
port=$(free_port)
out=$(hc "$nb" service create -d --name mesh --replicas 1 -p "$port:80" --constraint "node.id==${NODE[$na]}" "$IMAGE" 2>&1) ||
	die "hive service create mesh failed:"$'\n'"$out"
until=$(deadline)
while n=$(running_tasks "$nb" mesh); ((n < 1)); do
	alive "$nb" "waiting for the mesh service"
	past "$until" && die "the mesh service does not run after ${TIMEOUT}s:"$'\n'"$(hc "$nb" service ps mesh 2>&1)"
	sleep "$POLL"
done
cid=$(docker ps -q --filter "label=hive.node.id=${NODE[$na]}" --filter label=hive.service.name=mesh --filter status=running)
[[ $(wc -w <<<"$cid") == 1 ]] || die "want one running container of the mesh service on node A, found: ${cid:-none}"
cip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$cid" | awk '{ print $1 }')
[[ -n $cip ]] || die "the mesh service's container $cid has no IP address"
declare -A URL=(
	[direct]="http://$cip:80/"
	[remote]="http://${ADDR[$nb]%:*}:$port/"
	[local]="http://${ADDR[$na]%:*}:$port/"
)
for k in direct remote local; do
	until=$(deadline)
	until out=$("$LOAD" -url "${URL[$k]}" -n 1 -c 1 -timeout 2s -expect v1 2>&1); do
		past "$until" && die "$k ${URL[$k]} does not answer after ${TIMEOUT}s: $out"
		sleep "$POLL"
	done
done
declare -a I_DIRECT=() I_REMOTE=() I_LOCAL=() I_RATIO=()
declare -A rps=()
order=(direct remote local)
for i in $(seq "$RUNS"); do
	# Rotate the order so no target always goes first.
	for j in 0 1 2; do
		k=${order[$(((i + j) % 3))]}
		alive "$na" "during the load runs"
		alive "$nb" "during the load runs"
		out=$("$LOAD" -url "${URL[$k]}" -n "$REQUESTS" -c "$CONNS" -expect v1 2>&1) ||
			die "load against $k ${URL[$k]} failed: $out"
		rps[$k]=$(jq -r .rps <<<"$out")
	done
	I_DIRECT+=("${rps[direct]}")
	I_REMOTE+=("${rps[remote]}")
	I_LOCAL+=("${rps[local]}")
	I_RATIO+=("$(ratio "${rps[remote]}" "${rps[direct]}")")
	log "(i) run $i: direct $(fmt_rps "${rps[direct]}"), through node B (no task) $(fmt_rps "${rps[remote]}") ($(ratio "${rps[remote]}" "${rps[direct]}") of direct), through node A (the task's) $(fmt_rps "${rps[local]}")"
done
teardown

# ---- report ----------------------------------------------------------------

cell_ms() { if [[ -n $1 ]]; then fmt_ms "$1"; else echo "${2:-n/a}"; fi; }

f_med="" g_med="" g_down_med=""
read -r fb_med fb_min fb_max <<<"$(stats "${F_BASE[@]}")"
if ((${#F_KILL[@]})); then
	read -r f_med f_min f_max <<<"$(stats "${F_KILL[@]}")"
	read -r fl_med fl_min fl_max <<<"$(stats "${F_LEADER[@]}")"
fi
read -r gb_med gb_min gb_max <<<"$(stats "${G_BASE[@]}")"
if ((${#G_KILL[@]})); then read -r g_med g_min g_max <<<"$(stats "${G_KILL[@]}")"; fi
if ((${#G_DOWN[@]})); then read -r g_down_med g_down_min g_down_max <<<"$(stats "${G_DOWN[@]}")"; fi
read -r hj_med hj_min hj_max <<<"$(stats "${H_JOIN[@]}")"
read -r h_med h_min h_max <<<"$(stats "${H_READY[@]}")"
read -r id_med id_min id_max <<<"$(stats "${I_DIRECT[@]}")"
read -r ir_med ir_min ir_max <<<"$(stats "${I_REMOTE[@]}")"
read -r il_med il_min il_max <<<"$(stats "${I_LOCAL[@]}")"
read -r iq_med iq_min iq_max <<<"$(rstats "${I_RATIO[@]}")"
i_ratio=$(ratio "$ir_med" "$id_med")
go_ratio=$(awk -v x="$(gometric keepalive remote/direct)" 'BEGIN { printf "%.2f", x }')
NO_SWARM="Swarm: not measurable here"
WHY_SWARM="Docker Swarm runs one swarm node per Docker Engine, and this machine has one engine: it cannot run three swarm managers, or a manager and workers, so no Swarm figure can be measured here for (f), (g) or (h), and none is given."

table() {
	echo "| benchmark | hive | baseline (same run) | ratio | goal |"
	echo "|---|---|---|---|---|"
	echo "| (f) 3 managers, \`kill -9\` the leader → \`service create -d\` on a survivor succeeds | $(cell_ms "$f_med" "not writable in ${CONVERGE} s") | the same write on the same manager, cluster whole: $(fmt_ms "$fb_med"); $NO_SWARM | — | < 3 s: $(if [[ -n $f_med ]]; then met "$(below "$f_med" 3000)"; else met 0; fi) |"
	echo "| (g) 1 manager + 2 workers, 6 replicas; \`kill -9\` a worker + \`docker kill\` its ${G_MOVED} containers → 6 running on the survivors | $(cell_ms "$g_med" "not converged in ${CONVERGE} s") | ${G_MOVED} sequential \`docker run -d\` (the engine's floor): $(fmt_ms "$gb_med"); $NO_SWARM | $(if [[ -n $g_med ]]; then ratio "$g_med" "$gb_med"; else echo "—"; fi) | < 10 s: $(if [[ -n $g_med ]]; then met "$(below "$g_med" 10000)"; else met 0; fi) |"
	echo "| (h) \`hive join -d\` of a worker → the manager lists it Ready | $(fmt_ms "$h_med") | none ($NO_SWARM) | — | < 1 s: $(met "$(below "$h_med" 1000)") |"
	echo "| (i) mesh end to end: $CONNS keep-alive connections through the published port of a node with no task vs straight to the container | $(fmt_rps "$ir_med") | $(fmt_rps "$id_med") (container IP:80) | $i_ratio | ≥ 0.7: $(met "$(atleast "$i_ratio" 0.7)") |"
	echo "| (i′) mesh in process (\`go test -bench MeshRemoteVsDirect\`, keep-alive): remote node vs direct | $(fmt_rps "$(gometric keepalive remote_req/s)") | $(fmt_rps "$(gometric keepalive direct_req/s)") | $go_ratio | ≥ 0.7: $(met "$(atleast "$go_ratio" 0.7)") |"
}

details() {
	echo "Each figure is the median of the runs made ($RUNS asked); min–max:"
	echo
	if [[ -n $f_med ]]; then
		echo "- (f) leader killed → write accepted: $(range_ms "$f_min" "$f_max") over ${#F_KILL[@]} run(s); a new leader was first seen in \`cluster status\` on the survivor after $(fmt_ms "$fl_med") ($(range_ms "$fl_min" "$fl_max")), polled before each try of the write; healthy write: $(range_ms "$fb_min" "$fb_max")"
	else
		echo "- (f) $F_FAIL; healthy write: $(range_ms "$fb_min" "$fb_max")"
	fi
	if [[ -n $g_med ]]; then
		echo "- (g) worker killed → ${REPLICAS} running on the survivors: $(range_ms "$g_min" "$g_max") over ${#G_KILL[@]} run(s); worker marked down after $(if [[ -n $g_down_med ]]; then echo "$(fmt_ms "$g_down_med") ($(range_ms "$g_down_min" "$g_down_max"))"; else echo "n/a (the tasks moved before the node list said down)"; fi); ${G_MOVED} x \`docker run -d\`: $(range_ms "$gb_min" "$gb_max")"
	else
		echo "- (g) $G_FAIL. The run stopped there rather than wait ${CONVERGE} s again; ${G_MOVED} x \`docker run -d\`: $(range_ms "$gb_min" "$gb_max")"
	fi
	echo "- (h) \`hive join -d\` returned (the new node's API answers) after $(fmt_ms "$hj_med") ($(range_ms "$hj_min" "$hj_max")); Ready per the manager: $(range_ms "$h_min" "$h_max")"
	echo "- (i) $REQUESTS requests per run over $CONNS connections (bench/load, on this machine too); through the node with no task $(range_rps "$ir_min" "$ir_max"), direct $(range_rps "$id_min" "$id_max"), ratio within each run $iq_min–$iq_max; through the published port of the task's own node (one hop, no TLS) $(fmt_rps "$il_med") ($(range_rps "$il_min" "$il_max")), $(ratio "$il_med" "$id_med") of direct"
	echo "- (i′) \`${GOBENCH[*]}\`, one run: keep-alive remote/direct $(gometric keepalive remote/direct), local/direct $(gometric keepalive local/direct), CPU per request direct/remote $(gometric keepalive cpu_remote/direct); new connection per request: remote/direct $(gometric new_conn remote/direct) ($(fmt_rps "$(gometric new_conn remote_req/s)") vs $(fmt_rps "$(gometric new_conn direct_req/s)")); 1 MiB bodies: remote/direct $(gometric 1MiB remote/direct) ($(gometric 1MiB remote_MB/s) MB/s through the remote node)"
	echo "- $WHY_SWARM"
}

report=$(
	report_head "hive multi-node benchmark results"
	echo "- nodes: hive processes on 127.0.0.200–250 of this machine, one Docker Engine shared"
	report_load "$LOAD_START"
	echo "- command: \`$COMMAND\`"
	echo
	table
	echo
	details
)
publish "$report"
