#!/usr/bin/env bash
# bench/stack.sh: hive's stack benchmark. `hive stack deploy` of a
# 5-service compose file (two networks, a config, a secret, a published
# port) until every task runs, next to `docker stack deploy` of the same
# file on the same engine (swarm mode, when it starts there); and the
# re-deploy of the unchanged file: its time, and whether it touched any
# task. The table goes to stdout and to bench/results-stack.md. See
# bench/README.md.
#
#   bench/stack.sh                     # from the repository root, as root, after make build testimage
#   HIVE_TEST_BIN=/path/to/hive BENCH_RUNS=9 bench/stack.sh
#
# Environment:
#   HIVE_TEST_BIN  hive binary (default: bin/hive of this repository)
#   BENCH_RUNS     deploys and re-deploys of each; the median is reported (default 5)
#
# The script only touches what it made: a hive daemon on a fresh data dir
# in a temp dir, the containers of its node ID and the network namespaces
# named after it, the stacks bst (hive) and bsw (Swarm), and swarm mode
# when the engine was not in swarm mode before. An EXIT trap undoes all of
# it, whether the run ends well, fails or is interrupted.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_NAME=stack-bench
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

HIVE=${HIVE_TEST_BIN:-$repo/bin/hive}
RUNS=${BENCH_RUNS:-5}
IMAGE=hive-test/web:v1
SERVICES=(web api worker cache db) # the stack's services, one task each
REPLICAS=${#SERVICES[@]}          # containers of a deployed stack
HSTACK=bst                        # hive's stack
SSTACK=bsw                        # Swarm's stack
SETTLE=2        # seconds after a re-deploy before its tasks are compared with those before
POLL=0.02       # seconds between polls of the engine
TIMEOUT=120     # seconds any wait may take before the run fails
CLI_TIMEOUT=30  # seconds one hive CLI call may take
RESULTS=$here/results-stack.md
COMMAND="HIVE_TEST_BIN=$HIVE BENCH_RUNS=$RUNS ${BASH_SOURCE[0]}${*:+ $*}"

# Keep the daemon this script starts on the defaults, whatever the
# caller's shell has set.
clear_hive_env

# ---- state the cleanup undoes ------------------------------------------

RUN_ID="$$-$(date +%s)"
TMP=""
DIR=""             # the hive daemon's data dir, while it runs
HIVE_PID=""
HIVE_NODE=""
DP_H=""            # hive's VXLAN port
SWARM_OURS=0       # 1 while swarm mode is on because this script turned it on
GWBRIDGE_EXISTED=1 # docker_gwbridge was there before the script began
declare -a SWARM_SVCS=()
for svc in "${SERVICES[@]}"; do SWARM_SVCS+=("${SSTACK}_$svc"); done

cleanup() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +e
	log "cleaning up"
	local ns link net i
	if ((rc != 0)) && [[ -n $DIR && -f $DIR/hive.log ]]; then
		cp "$DIR/hive.log" "/tmp/hive-bench-stack-$RUN_ID-failed.log" &&
			log "hive's log is kept in /tmp/hive-bench-stack-$RUN_ID-failed.log"
	fi
	if [[ -n $DIR ]]; then
		# Let hive remove its stack (and so its namespaces) while it runs.
		hc "$DIR" stack rm "$HSTACK" >/dev/null 2>&1
		for i in $(seq 50); do
			[[ -n $(own_netns "$HIVE_NODE") ]] || break
			sleep 0.1
		done
		"$HIVE" -H "unix://$DIR/hive.sock" down >/dev/null 2>&1
		kill_ours "$HIVE_PID"
	fi
	if [[ -n $HIVE_NODE ]]; then
		rm_containers "label=hive.node.id=$HIVE_NODE"
		for ns in $(own_netns "$HIVE_NODE"); do
			log "removing the network namespace $ns hive left"
			ip netns delete "$ns"
		done
	fi
	for link in $(own_vxlan "$DP_H"); do
		log "removing the VXLAN device $link hive left in the host's namespace"
		ip link delete "$link"
	done
	if ((SWARM_OURS)); then
		swarm_undo "${SWARM_SVCS[@]}"
		# The engine drops a swarm network a moment after it leaves.
		for net in front back; do
			for i in $(seq 50); do
				docker network inspect "${SSTACK}_$net" >/dev/null 2>&1 || break
				docker network rm "${SSTACK}_$net" >/dev/null 2>&1 || sleep 0.2
			done
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

# hive_watch WHAT: fail at once, with the end of its log, if the daemon died.
hive_watch() {
	kill -0 "$HIVE_PID" 2>/dev/null ||
		die "$1: the hive daemon (pid $HIVE_PID) exited; the end of $DIR/hive.log:"$'\n'"$(tail -20 "$DIR/hive.log")"
}

# hive_running: how many of the stack's tasks hive reports desired and running.
hive_running() {
	hc "$DIR" stack ps "$HSTACK" --format json 2>/dev/null |
		jq '[.[] | select(.desired_state == "running" and .status.state == "running")] | length' 2>/dev/null ||
		echo 0
}

# Containers of each stack, per the engine.
HFILTER=() SFILTER=(--filter "label=com.docker.stack.namespace=$SSTACK")

# hive_wait T0: poll until REPLICAS containers of hive's stack run per the
# engine and hive reports as many tasks running (it reports a task running
# once it is attached to its networks, after its container started); sets
# H_CONT to the ms from T0 until the containers ran, H_TASKS until the tasks did.
hive_wait() {
	local t0=$1 until n
	H_CONT=""
	until=$(deadline)
	while :; do
		if [[ -z $H_CONT ]]; then
			n=$(count --filter status=running "${HFILTER[@]}")
			((n < REPLICAS)) || H_CONT=$(ms "$t0" "$(now)")
		fi
		if [[ -n $H_CONT ]]; then
			n=$(hive_running)
			if ((n >= REPLICAS)); then
				H_TASKS=$(ms "$t0" "$(now)")
				return 0
			fi
		fi
		hive_watch "waiting for stack $HSTACK"
		past "$until" && die "stack $HSTACK: not every task runs after ${TIMEOUT}s:"$'\n'"$(hc "$DIR" stack ps --no-trunc "$HSTACK" 2>&1)"
		sleep "$POLL"
	done
}

# hive_gone: after hive stack rm, poll until the stack's containers, its
# objects and hive's namespaces of its networks are gone.
hive_gone() {
	local until
	until=$(deadline)
	while (($(count -a "${HFILTER[@]}") > 0)) || [[ -n $(own_netns "$HIVE_NODE") ]] ||
		hc "$DIR" stack ls --format json | jq -e --arg s "$HSTACK" 'any(.[]; .name == $s)' >/dev/null; do
		hive_watch "waiting for stack $HSTACK to go"
		past "$until" && die "stack $HSTACK: still there ${TIMEOUT}s after hive stack rm (namespaces: $(own_netns "$HIVE_NODE" | paste -sd' ' -)):"$'\n'"$(hc "$DIR" stack ls 2>&1)"
		sleep "$POLL"
	done
}

# swarm_wait T0: poll until REPLICAS containers of Swarm's stack run; sets
# S_TASKS to the ms from T0.
swarm_wait() {
	local t0=$1 until n
	until=$(deadline)
	while n=$(count --filter status=running "${SFILTER[@]}"); ((n < REPLICAS)); do
		past "$until" && die "stack $SSTACK: $n of $REPLICAS containers running after ${TIMEOUT}s:"$'\n'"$(docker stack ps --no-trunc "$SSTACK" 2>&1)"
		sleep "$POLL"
	done
	S_TASKS=$(ms "$t0" "$(now)")
}

# swarm_objects: the networks, secrets and configs of Swarm's stack, one a line.
swarm_objects() {
	local f=(--filter "label=com.docker.stack.namespace=$SSTACK")
	docker network ls -q "${f[@]}"
	docker secret ls -q "${f[@]}"
	docker config ls -q "${f[@]}"
}

# swarm_gone: after docker stack rm, poll until the stack's containers and
# objects are gone. docker stack rm does not wait for the tasks, so a
# network can still be in use when it asks; it is removed again then.
swarm_gone() {
	local until net
	until=$(deadline)
	while (($(count -a "${SFILTER[@]}") > 0)) || [[ -n $(swarm_objects) ]]; do
		if (($(count -a "${SFILTER[@]}") == 0)); then
			for net in $(docker network ls -q --filter "label=com.docker.stack.namespace=$SSTACK"); do
				docker network rm "$net" >/dev/null 2>&1 || true
			done
		fi
		past "$until" && die "stack $SSTACK: still there ${TIMEOUT}s after docker stack rm:"$'\n'"$(swarm_objects)"
		sleep "$POLL"
	done
}

# tasks_of FILTER_ARGS... -- PS_COMMAND...: what a re-deploy must leave as
# it was, one line each: every container of the stack (in any state) with
# its start time, then every task ID the orchestrator lists.
tasks_of() {
	local filters=() ids
	while [[ $1 != -- ]]; do
		filters+=("$1")
		shift
	done
	shift
	ids=$(docker ps -aq --no-trunc "${filters[@]}") || die "docker ps ${filters[*]} failed"
	# shellcheck disable=SC2086 # one argument per ID
	[[ -z $ids ]] || docker inspect -f 'container {{.Id}} started {{.State.StartedAt}}' $ids | sort
	"$@" | sort | sed 's/^/task /'
}

# hive_versions, swarm_versions: "NAME VERSION" of each of the stack's
# services, VERSION the index of the last write to it (hive's Raft index,
# Swarm's Version.Index): an update call bumps it, whether or not it
# replaces a task.
hive_versions() { hc "$DIR" stack services "$HSTACK" --format json | jq -r '.[] | "\(.service.spec.name) \(.service.version)"' | sort; }
swarm_versions() {
	local ids
	ids=$(docker stack services -q "$SSTACK") || die "docker stack services $SSTACK failed"
	# shellcheck disable=SC2086 # one argument per ID
	docker service inspect -f '{{.Spec.Name}} {{.Version.Index}}' $ids | sort
}

# said OUTPUT: a deploy's output on one line for the report, without
# compose-go's log lines (its warning that `version` is obsolete, which
# docker stack deploy needs) and with no backquote to break the markdown.
said() { grep -v '^time=' <<<"$1" | tr '`' "'" | paste -sd';' - || true; }

# changed BEFORE AFTER: how many lines are in one and not the other (a
# replaced task adds lines, its old container removed takes some away).
changed() { comm -3 <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep -c . || true; }

# bumped BEFORE AFTER: how many services' versions changed (lines of BEFORE not in AFTER).
bumped() { comm -23 <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep -c . || true; }

# ---- preflight ---------------------------------------------------------

[[ $# -eq 0 ]] || die "usage: [HIVE_TEST_BIN=bin/hive] [BENCH_RUNS=5] $0 (no arguments)"
need_count BENCH_RUNS "$RUNS" runs
need_hive
((EUID == 0)) || die "the stack's overlay networks need root (network namespaces, VXLAN, nftables): run as root"
need_tools docker jq awk ss ip comm timeout curl
need_ns_date
need_engine "$IMAGE"

swarm_preflight
begin_run hive-bench-stack
log "hive $HIVE, $RUNS run(s), temp dir $TMP"

# ---- the compose file --------------------------------------------------

# One file for both: every service dnsrr (a Swarm VIP needs IPVS, which
# this kernel may lack, and a dnsrr service cannot publish an ingress port
# in Swarm), the published port in host mode, its number from the
# environment (a free one for each of the two).
printf 'bench %s\n' "$RUN_ID" >"$TMP/site.conf"
(umask 077 && head -c 24 /dev/urandom | base64 >"$TMP/token")
F=$TMP/stack.yaml
{
	cat <<'EOF'
version: "3.8"
services:
  web:
    image: hive-test/web:v1
    networks: [front]
    ports:
      - target: 80
        published: ${BENCH_STACK_PORT}
        protocol: tcp
        mode: host
    configs:
      - source: site
        target: /etc/site.conf
    deploy: {replicas: 1, endpoint_mode: dnsrr}
  api:
    image: hive-test/web:v1
    networks: [front, back]
    secrets: [token]
    configs:
      - source: site
        target: /etc/site.conf
    deploy: {replicas: 1, endpoint_mode: dnsrr}
EOF
	for svc in worker cache; do
		cat <<EOF
  $svc:
    image: hive-test/web:v1
    networks: [back]
    deploy: {replicas: 1, endpoint_mode: dnsrr}
EOF
	done
	cat <<'EOF'
  db:
    image: hive-test/web:v1
    networks: [back]
    secrets: [token]
    deploy: {replicas: 1, endpoint_mode: dnsrr}
networks:
  front: {}
  back: {}
configs:
  site:
    file: ./site.conf
secrets:
  token:
    file: ./token
EOF
} >"$F"
cd "$TMP" # the file's paths are relative to it

# ---- hive ----------------------------------------------------------------

DIR=$TMP/hive
DP_H=$(free_udp 5795)
out=$("$HIVE" up -d --config "$TMP/hive.yaml" --data-dir "$DIR" -H "unix://$DIR/hive.sock" \
	--listen-addr "127.0.0.1:$(free_port)" --data-path-port "$DP_H" 2>&1) ||
	die "hive up -d --data-path-port $DP_H failed:"$'\n'"$out"
HIVE_PID=$(hc "$DIR" info --format json | jq -r .pid)
until=$(deadline)
until hc "$DIR" info --format json 2>/dev/null | jq -e '.leader == true' >/dev/null; do
	hive_watch "waiting for hive to lead"
	past "$until" && die "hive did not become leader; its log:"$'\n'"$(tail -20 "$DIR/hive.log")"
	sleep "$POLL"
done
HIVE_NODE=$(hc "$DIR" info --format json | jq -r .node_id)
[[ -n $HIVE_NODE && $HIVE_NODE != null ]] || die "hive info gives no node ID"
HFILTER=(--filter "label=hive.node.id=$HIVE_NODE" --filter "label=com.docker.stack.namespace=$HSTACK")
log "hive: node $HIVE_NODE, VXLAN port $DP_H"

declare -a H_S1=() H_S1C=() H_S1R=() H_S2=() S_S1=() S_S1R=() S_S2=()
H_TOUCHED=0 H_BUMPED=0 S_TOUCHED=0 S_BUMPED=0 H_SAID="" S_SAID="" H_DIFF="" S_DIFF=""
export BENCH_STACK_PORT
H_PORT=$(free_port "hive's stack")
BENCH_STACK_PORT=$H_PORT
H_ANSWER="no"
for i in $(seq "$RUNS"); do
	t0=$(now)
	out=$(hc "$DIR" stack deploy --resolve-image never -c "$F" "$HSTACK" 2>&1) || die "hive stack deploy $HSTACK failed:"$'\n'"$out"
	H_S1R+=("$(ms "$t0" "$(now)")")
	hive_wait "$t0"
	H_S1+=("$H_TASKS") H_S1C+=("$H_CONT")
	if ((i == 1)) && [[ $(curl -s -m 2 "http://127.0.0.1:$H_PORT/" 2>/dev/null) =~ \ v1$ ]]; then H_ANSWER=yes; fi
	log "hive run $i: deploy returned after $(fmt_ms "${H_S1R[-1]}"), $REPLICAS containers ran after $(fmt_ms "$H_CONT"), $REPLICAS tasks running after $(fmt_ms "$H_TASKS")"

	before=$(tasks_of "${HFILTER[@]}" -- hc "$DIR" stack ps -q --no-trunc "$HSTACK")
	vbefore=$(hive_versions)
	t0=$(now)
	out=$(hc "$DIR" stack deploy --resolve-image never -c "$F" "$HSTACK" 2>&1) || die "hive stack deploy $HSTACK (unchanged) failed:"$'\n'"$out"
	H_S2+=("$(ms "$t0" "$(now)")")
	H_SAID=$(said "$out")
	sleep "$SETTLE"
	after=$(tasks_of "${HFILTER[@]}" -- hc "$DIR" stack ps -q --no-trunc "$HSTACK")
	n=$(changed "$before" "$after")
	v=$(bumped "$vbefore" "$(hive_versions)")
	H_TOUCHED=$((H_TOUCHED + n)) H_BUMPED=$((H_BUMPED + v))
	((n == 0)) || H_DIFF=$({ diff <(echo "$before") <(echo "$after") || true; } | grep '^[<>]' | head -6 | paste -sd';' -)
	log "hive run $i: re-deploy took $(fmt_ms "${H_S2[-1]}"); lines of containers and tasks that differ: $n, services updated: $v"

	out=$(hc "$DIR" stack rm "$HSTACK" 2>&1) || die "hive stack rm $HSTACK failed:"$'\n'"$out"
	hive_gone
done
hc "$DIR" down >/dev/null 2>&1 || die "hive down failed"
for _ in $(seq 100); do
	kill -0 "$HIVE_PID" 2>/dev/null || break
	sleep 0.05
done
kill_ours "$HIVE_PID"
DIR="" HIVE_PID=""

# ---- swarm ---------------------------------------------------------------

S_ANSWER="no"
if [[ -z $SWARM_ERR ]]; then
	DP_S=$(free_udp $((DP_H + 1)) "$DP_H")
	SWARM_OURS=1
	if ! out=$(docker swarm init --advertise-addr 127.0.0.1 --data-path-port "$DP_S" 2>&1); then
		SWARM_ERR="docker swarm init --advertise-addr 127.0.0.1 --data-path-port $DP_S failed: ${out//$'\n'/ }"
		swarm_leave
	fi
fi
if [[ -z $SWARM_ERR ]]; then
	log "swarm: mode on (VXLAN port $DP_S)"
	S_PORT=$(free_port "Swarm's stack")
	BENCH_STACK_PORT=$S_PORT
	for i in $(seq "$RUNS"); do
		t0=$(now)
		# --resolve-image never, as for hive: no registry has the local image.
		out=$(docker stack deploy --resolve-image never -c "$F" "$SSTACK" 2>&1) || die "docker stack deploy $SSTACK failed:"$'\n'"$out"
		S_S1R+=("$(ms "$t0" "$(now)")")
		swarm_wait "$t0"
		S_S1+=("$S_TASKS")
		if ((i == 1)) && [[ $(curl -s -m 2 "http://127.0.0.1:$S_PORT/" 2>/dev/null) =~ \ v1$ ]]; then S_ANSWER=yes; fi
		log "swarm run $i: deploy returned after $(fmt_ms "${S_S1R[-1]}"), $REPLICAS containers ran after $(fmt_ms "$S_TASKS")"

		before=$(tasks_of "${SFILTER[@]}" -- docker stack ps -q "$SSTACK")
		vbefore=$(swarm_versions)
		t0=$(now)
		out=$(docker stack deploy --resolve-image never -c "$F" "$SSTACK" 2>&1) || die "docker stack deploy $SSTACK (unchanged) failed:"$'\n'"$out"
		S_S2+=("$(ms "$t0" "$(now)")")
		S_SAID=$(said "$out")
		sleep "$SETTLE"
		after=$(tasks_of "${SFILTER[@]}" -- docker stack ps -q "$SSTACK")
		n=$(changed "$before" "$after")
		v=$(bumped "$vbefore" "$(swarm_versions)")
		S_TOUCHED=$((S_TOUCHED + n)) S_BUMPED=$((S_BUMPED + v))
		((n == 0)) || S_DIFF=$({ diff <(echo "$before") <(echo "$after") || true; } | grep '^[<>]' | head -6 | paste -sd';' -)
		log "swarm run $i: re-deploy took $(fmt_ms "${S_S2[-1]}"); lines of containers and tasks that differ: $n, services updated: $v"

		out=$(docker stack rm "$SSTACK" 2>&1) || die "docker stack rm $SSTACK failed:"$'\n'"$out"
		swarm_gone
	done
	swarm_leave
	drop_gwbridge
else
	log "swarm baseline not measured: $SWARM_ERR"
fi

# ---- report ----------------------------------------------------------------

read -r h1 h1_min h1_max <<<"$(stats "${H_S1[@]}")"
read -r h1c h1c_min h1c_max <<<"$(stats "${H_S1C[@]}")"
read -r h1r h1r_min h1r_max <<<"$(stats "${H_S1R[@]}")"
read -r h2 h2_min h2_max <<<"$(stats "${H_S2[@]}")"
s1="" s2="" s1_cell="n/a" s2_cell="n/a" s1_goal="no baseline" s2_touched="n/a"
if ((${#S_S1[@]})); then
	read -r s1 s1_min s1_max <<<"$(stats "${S_S1[@]}")"
	read -r s1r s1r_min s1r_max <<<"$(stats "${S_S1R[@]}")"
	read -r s2 s2_min s2_max <<<"$(stats "${S_S2[@]}")"
	s1_cell=$(fmt_ms "$s1") s2_cell=$(fmt_ms "$s2")
	r1=$(ratio "$h1" "$s1")
	s1_goal=$(met "$(atleast 0.8 "$r1")") # ratio ≤ 0.8
	s2_touched="$S_TOUCHED changed; $S_BUMPED service updates"
fi
h2_ok=0
[[ $(below "$h2" 200) == 1 && $H_TOUCHED == 0 && $H_BUMPED == 0 ]] && h2_ok=1

table() {
	echo "| benchmark | hive | baseline | ratio | goal |"
	echo "|---|---|---|---|---|"
	echo "| (s1) stack deploy of $REPLICAS services (1 task each, 2 networks, a config, a secret, a host-mode port) until every task runs, vs \`docker stack deploy\` (Swarm) of the same file | $(fmt_ms "$h1") | $s1_cell | $(ratio "$h1" "${s1:-0}") | ≤ 0.8: $s1_goal |"
	echo "| (s2) re-deploy of the unchanged file | $(fmt_ms "$h2") | $s2_cell | $(ratio "$h2" "${s2:-0}") | < 200 ms and no task touched: $(met "$h2_ok") |"
	echo "| (s2′) containers and tasks changed by the re-deploys (lines of the lists that differ), and services updated (all $RUNS runs) | $H_TOUCHED changed; $H_BUMPED service updates | $s2_touched | — | hive none: $(met "$(((H_TOUCHED + H_BUMPED) == 0))") |"
}

details() {
	echo "Each time is the median of $RUNS run(s); min–max:"
	echo
	echo "- (s1) hive: $(range_ms "$h1_min" "$h1_max") until \`hive stack ps\` showed $REPLICAS tasks running (hive reports a task running once it is attached to its networks, after its container started); $(fmt_ms "$h1c") ($(range_ms "$h1c_min" "$h1c_max")) until $REPLICAS of its containers ran per \`docker ps\`; \`hive stack deploy\` returned after $(fmt_ms "$h1r") ($(range_ms "$h1r_min" "$h1r_max")); the published port answered: $H_ANSWER"
	if [[ -n $s1 ]]; then
		echo "- (s1) Swarm: $(range_ms "$s1_min" "$s1_max") until $REPLICAS containers of the stack ran per \`docker ps\` (Swarm attaches a task to its networks before its container starts); \`docker stack deploy\` returned after $(fmt_ms "$s1r") ($(range_ms "$s1r_min" "$s1r_max")); the published port answered: $S_ANSWER"
	fi
	echo "- (s2) hive: $(range_ms "$h2_min" "$h2_max"); what it said the last time (compose-go's warning that \`version\` is obsolete left out): \`$H_SAID\`"
	if [[ -n $s2 ]]; then
		echo "- (s2) Swarm: $(range_ms "$s2_min" "$s2_max"); what it said the last time: \`$S_SAID\`"
	fi
	echo "- (s2′) ${SETTLE} s after each re-deploy, the stack's containers (in any state, with their start times, per \`docker ps -a\` and \`docker inspect\`) and its task IDs (\`hive stack ps -q\`, \`docker stack ps -q\`) are compared with those just before it, and so are the services' versions (a service update bumps them, whether or not it replaces a task)${H_DIFF:+; the first differences in hive: \`$H_DIFF\`}${S_DIFF:+; the first differences in Swarm: \`$S_DIFF\`}"
	echo "- between runs the stack is removed (\`hive stack rm\`, \`docker stack rm\`) and the script waits until its containers, networks, secrets and configs are gone (and, for hive, the namespaces of its networks)"
	[[ -z $SWARM_ERR ]] || echo "- Swarm baseline not measured: $SWARM_ERR"
	echo
	echo "The compose file, the same for both (\`BENCH_STACK_PORT\` is a free port, another one for each; \`site.conf\` and \`token\` are small files beside it). Every service is \`dnsrr\`: a Swarm VIP needs the kernel's IPVS ($(if [[ -e /proc/net/ip_vs ]]; then echo "present here"; else echo "absent here: no /proc/net/ip_vs"; fi)), and a dnsrr service can publish a port in host mode only. Both deploys run with \`--resolve-image never\`: no registry has the local image (so neither asks one)."
	echo
	echo '```yaml'
	cat "$F"
	echo '```'
}

report=$(
	report_head "hive stack benchmark results"
	report_load "$LOAD_START"
	echo "- command: \`$COMMAND\`"
	echo
	table
	echo
	details
)
publish "$report"
