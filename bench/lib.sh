# shellcheck shell=bash
# The state these functions read and write is declared by the scripts
# (associative arrays among it), and some arguments are optional:
# shellcheck disable=SC2004,SC2034,SC2119,SC2120
# bench/lib.sh: the helpers the benchmark scripts share, one copy of each.
# Sourced, never run: each script sets `here` and BENCH_NAME, then
#
#   BENCH_NAME=network-bench
#   . "$here/lib.sh"
#
# and keeps for itself its settings, its state, its cleanup and its traps
# (what each one cleans up is its own). The functions read the script's
# settings where they need them:
#
#   BENCH_NAME        prefix of log, die and on_err ("bench", "cluster-bench", ...)
#   HIVE              the hive binary
#   TIMEOUT, POLL     seconds a wait may take, seconds between polls
#   CLI_TIMEOUT       if set, seconds one hive CLI call (hc) may take
#   REPLICAS          what wait_running waits for
#   WATCH_DIR         if set, wait_running and wait_gone fail at once when the
#                     daemon HIVE_PID (data dir WATCH_DIR) dies
#   GWBRIDGE_EXISTED  0 if docker_gwbridge was not there before the script
#                     began (swarm_preflight sets it)
#   SWARM_OURS        swarm_leave sets it to 0
#
# and the node helpers (cluster.sh, network.sh) the script's node tables:
# declare -a DIRS NODES; declare -A PID EXE NODE ADDR. Some set the
# script's state: begin_run sets LOAD_START and TMP, swarm_preflight
# SWARM_ERR and GWBRIDGE_EXISTED.
: "${BENCH_NAME:?set BENCH_NAME before sourcing bench/lib.sh}"

# ---- messages ----------------------------------------------------------

log() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2
	exit 1
}

# on_err RC LINE COMMAND: the ERR trap's message, naming the file of the
# failing line (the script's, or this one's):
#   trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
on_err() {
	local rc=$1 line=$2 cmd=$3
	printf '%s: error: command failed (exit %s) at %s:%s: %s\n' "$BENCH_NAME" "$rc" "${BASH_SOURCE[1]##*/}" "$line" "$cmd" >&2
}

# clear_hive_env [KEEP...]: hive reads HIVE_* settings from the environment;
# unset them all but HIVE_TEST_BIN and KEEP, so that the daemons a script
# starts run on its settings, whatever the caller's shell has set.
clear_hive_env() {
	local v k keep
	while read -r v; do
		keep=0
		for k in HIVE_TEST_BIN "$@"; do
			[[ $v != "$k" ]] || keep=1
		done
		((keep)) || unset "$v"
	done < <(compgen -e | grep '^HIVE_' || true)
}

# ---- preflight ---------------------------------------------------------

# need_count NAME VALUE WHAT: VALUE (of variable NAME) is a number, 1 or more.
need_count() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1=$2: want a number of $3, 1 or more"; }

# need_hive: HIVE is an executable.
need_hive() { [[ -x $HIVE ]] || die "no hive binary at $HIVE: run 'make build', or point HIVE_TEST_BIN at one"; }

# need_tools TOOL...: each is installed.
need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool is needed and not installed"
	done
}

# need_ns_date: date +%N gives nanoseconds (GNU date), which now() needs.
need_ns_date() { [[ $(date +%N) =~ ^[0-9]{9}$ ]] || die "date +%N does not give nanoseconds here (GNU date needed)"; }

# need_engine IMAGE...: the Docker Engine answers and has every IMAGE.
need_engine() {
	local img
	docker info >/dev/null 2>&1 || die "cannot reach the Docker engine: is it running, and may this user use it?"
	for img in "$@"; do
		docker image inspect "$img" >/dev/null 2>&1 ||
			die "image $img not found: build it with acceptance/testimage/build.sh (or make testimage)"
	done
}

# begin_run NAME: the run begins: LOAD_START is the load average now (for
# report_load), TMP a new temp dir /tmp/NAME.XXXXXX holding an empty
# hive.yaml, for the daemons' --config (so that no hive.yaml of the search
# path applies). The script's cleanup removes TMP.
begin_run() {
	LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
	TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	: >"$TMP/hive.yaml"
}

# ---- time, figures and their formats -----------------------------------

now() { date +%s%N; }

# ms START END: milliseconds between two now() readings.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# mmm FORMAT VALUE...: "median min max" of VALUEs, each printed with FORMAT.
mmm() {
	local f=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v f="$f" '{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf f " " f " " f "\n", m, v[1], v[NR] }'
}

# stats VALUE...: "median min max", one decimal.
stats() { mmm %.1f "$@"; }

# pct P VALUE...: the P-th percentile (P a whole number) of VALUEs, by
# nearest rank, one decimal.
pct() {
	local p=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v p="$p" '{ v[NR] = $1 }
		END { r = int((p * NR + 99) / 100); if (r < 1) r = 1; printf "%.1f", v[r] }'
}

# rstats RATIO...: "median min max" of ratios, two decimals.
rstats() { mmm %.2f "$@"; }

# fmt_ms MS: a duration for people (negative ones too).
fmt_ms() {
	awk -v x="$1" 'BEGIN { if (x >= 1000 || x <= -1000) printf "%.2f s", x / 1000
		else if (x >= 10 || x <= -10) printf "%.0f ms", x; else printf "%.1f ms", x }'
}

# fmt_rps RPS: a request rate for people.
fmt_rps() { awk -v x="$1" 'BEGIN { printf "%.0f req/s", x }'; }

# fmt_mb KIB: a size in MB (10^6 bytes) from /proc's kB (KiB), signed.
fmt_mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k * 1024 / 1e6 }'; }

# range_ms MIN MAX, range_rps MIN MAX: "MIN–MAX" for people.
range_ms() { echo "$(fmt_ms "$1")–$(fmt_ms "$2")"; }
range_rps() { echo "$(fmt_rps "$1")–$(fmt_rps "$2")"; }

# ratio A B: A/B, or n/a.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

# met OK: the goal cell's verdict.
met() { if [[ $1 == 1 ]]; then echo "met"; else echo "**missed**"; fi; }

# below X LIMIT / atleast X LIMIT: 1 or 0.
below() { awk -v x="$1" -v l="$2" 'BEGIN { print (x < l) }'; }
atleast() { awk -v x="$1" -v l="$2" 'BEGIN { print (x >= l) }'; }

# deadline [SECONDS]: the epoch second SECONDS (default TIMEOUT) from now;
# past DEADLINE: it has come.
deadline() { echo $(($(date +%s) + ${1:-$TIMEOUT})); }
past() { (($(date +%s) >= $1)); }

# machine: the machine, for the report's head.
machine() {
	local mem cpu
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "$(nproc) CPUs (${cpu:-unknown}), $mem memory, Linux $(uname -r), Docker Engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
}

# report_head TITLE [MACHINE]: the head of a results file: TITLE, the date,
# the machine (MACHINE, or machine's line) and the hive binary.
report_head() {
	echo "# $1"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "- machine: ${2:-$(machine)}"
	echo "- hive: $("$HIVE" --version 2>/dev/null | head -1) ($HIVE)"
}

# report_load START: the load-average line of a report, START read at the start.
report_load() {
	echo "- load average (1 min): $1 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end (anything else running on the machine weighs on every figure)"
}

# publish REPORT: REPORT to stdout and to the file RESULTS.
publish() {
	printf '%s\n' "$1" | tee "$RESULTS"
	log "results written to $RESULTS"
}

# ---- processes and their memory ----------------------------------------

children() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }

# rss_kb, anon_kb PID: VmRSS, RssAnon of PID in KiB (they fail if PID is gone).
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }

# pss_kb PID: the PSS of PID in KiB, 0 if it cannot be read.
pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

# kill_ours PID: kill -9 a hive daemon and its plugin processes if they are
# still there (after 'hive down'), checking each PID still runs this hive
# binary.
kill_ours() {
	local pid=$1 p
	[[ -n $pid ]] || return 0
	for p in $(children "$pid") "$pid"; do
		if [[ -r /proc/$p/cmdline ]] && tr '\0' ' ' </proc/"$p"/cmdline | grep -qF "$HIVE"; then
			kill -9 "$p" 2>/dev/null || true
		fi
	done
}

# ---- ports ---------------------------------------------------------------

# port_free PORT: nothing listens on TCP PORT, on any address.
port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# free_port [FOR]: a TCP port nothing listens on; FOR names its use in the error.
free_port() {
	local p i
	for i in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "found no free TCP port${1:+ for $1}"
}

# udp_free PORT: no UDP socket (a VXLAN device's included) is bound to PORT.
udp_free() { ! ss -Huln "sport = :$1" | grep -q .; }

# free_udp FROM [NOT]: the first free UDP port from FROM on (up to
# FROM+100), other than NOT, for a VXLAN data path (--data-path-port).
free_udp() {
	local p
	for ((p = $1; p <= $1 + 100; p++)); do
		if [[ $p != "${2:-}" ]] && udp_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "found no free UDP port in $1-$(($1 + 100)) for a VXLAN data path"
}

# ---- what hive's overlay plugin leaves on the host -----------------------

# own_netns NODE_ID...: the network namespaces the overlay plugin of these
# nodes made (/run/netns/hive-NODE_ID-NETWORK_ID), one name a line; an empty
# NODE_ID stands for no node.
own_netns() {
	local node ns
	for node in "$@"; do
		[[ -n $node ]] || continue
		for ns in /run/netns/hive-"$node"-*; do
			[[ ! -e $ns ]] || echo "${ns##*/}"
		done
	done
}

# own_vxlan PORT...: the VXLAN devices in this namespace on these UDP ports
# (the nodes' --data-path-port), one name a line; an empty PORT stands for
# no port.
own_vxlan() {
	local p ports=""
	for p in "$@"; do
		[[ -z $p ]] || ports+=${ports:+,}$p
	done
	[[ -n $ports ]] || return 0
	ip -j -d link show type vxlan 2>/dev/null |
		jq -r --argjson p "[$ports]" '.[] | select(.linkinfo.info_data.port as $x | $p | any(.[]; . == $x)) | .ifname'
}

# ---- containers ----------------------------------------------------------

# count FILTER...: how many containers docker ps lists with these filters.
count() {
	local out
	out=$(docker ps -q "$@") || die "docker ps $* failed"
	if [[ -z $out ]]; then echo 0; else wc -l <<<"$out"; fi
}

# rm_containers FILTER: docker rm -f every container (in any state) docker ps
# lists with the filter; fails if docker does.
rm_containers() {
	local ids
	ids=$(docker ps -aq --filter "$1") || return
	# shellcheck disable=SC2086 # one argument per ID
	[[ -z $ids ]] || docker rm -f $ids >/dev/null
}

# watched WHAT: fail at once, with the end of its log, if WATCH_DIR is set
# and its daemon HIVE_PID exited.
watched() {
	if [[ -n ${WATCH_DIR:-} ]] && ! kill -0 "$HIVE_PID" 2>/dev/null; then
		die "$1: the hive daemon (pid $HIVE_PID) exited; the end of $WATCH_DIR/hive.log:"$'\n'"$(tail -20 "$WATCH_DIR/hive.log")"
	fi
}

# wait_running WHAT FILTER...: poll until REPLICAS containers run.
wait_running() {
	local what=$1 until n
	shift
	until=$(deadline)
	while :; do
		n=$(count --filter status=running "$@")
		((n < REPLICAS)) || return 0
		watched "$what"
		past "$until" && die "$what: only $n of $REPLICAS containers running after ${TIMEOUT}s"
		sleep "$POLL"
	done
}

# wait_gone WHAT FILTER...: poll until no container (in any state) matches.
wait_gone() {
	local what=$1 until n
	shift
	until=$(deadline)
	while :; do
		n=$(count -a "$@")
		((n > 0)) || return 0
		watched "$what"
		past "$until" && die "$what: $n containers still there ${TIMEOUT}s after removal"
		sleep 0.1
	done
}

# ---- swarm ---------------------------------------------------------------

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

# swarm_preflight: before the run, what swarm mode allows: SWARM_ERR says
# why there will be no swarm baseline (the engine is in swarm mode already,
# and the script leaves it alone), empty if there can be one;
# GWBRIDGE_EXISTED is 0 if there is no docker_gwbridge yet (swarm mode
# would make it, and drop_gwbridge remove it).
swarm_preflight() {
	local state
	SWARM_ERR=""
	state=$(swarm_state)
	[[ $state == inactive ]] || SWARM_ERR="the engine is already in swarm mode (state: $state); this script leaves it alone"
	GWBRIDGE_EXISTED=1
	docker network inspect docker_gwbridge >/dev/null 2>&1 || GWBRIDGE_EXISTED=0
}

# swarm_leave: leave swarm mode and wait until the engine says so.
swarm_leave() {
	local until out
	out=$(docker swarm leave --force 2>&1) || [[ $(swarm_state) == inactive ]] ||
		die "docker swarm leave --force failed: $out"
	until=$(deadline)
	until [[ $(swarm_state) == inactive ]]; do
		past "$until" && die "the engine is still in swarm mode ${TIMEOUT}s after docker swarm leave --force"
		sleep 0.1
	done
	SWARM_OURS=0
}

# swarm_undo SERVICE...: for a cleanup: remove the swarm services, leave
# swarm mode and remove whatever containers of the services are left. It
# fails on nothing.
swarm_undo() {
	local svc
	for svc in "$@"; do
		docker service rm "$svc" >/dev/null 2>&1 || true
	done
	docker swarm leave --force >/dev/null 2>&1 || true
	for svc in "$@"; do
		rm_containers "label=com.docker.swarm.service.name=$svc" || true
	done
}

# drop_gwbridge removes the docker_gwbridge network swarm mode created,
# unless it existed before this script ran.
drop_gwbridge() {
	if ((!GWBRIDGE_EXISTED)) && docker network inspect docker_gwbridge >/dev/null 2>&1; then
		docker network rm docker_gwbridge >/dev/null 2>&1 || log "could not remove docker_gwbridge (in use?)"
	fi
}

# ---- hive ----------------------------------------------------------------

# hc DIR ARGS...: the hive CLI against the daemon on DIR, within CLI_TIMEOUT
# seconds if it is set.
hc() {
	local dir=$1
	shift
	if [[ -n ${CLI_TIMEOUT:-} ]]; then
		timeout "$CLI_TIMEOUT" "$HIVE" -H "unix://$dir/hive.sock" "$@"
	else
		"$HIVE" -H "unix://$dir/hive.sock" "$@"
	fi
}

# ---- hive nodes, found again by the PID in their hive.lock ---------------

# ours PID DIR: PID is the hive daemon of DIR (its command line names DIR).
ours() {
	[[ -n $1 && -r /proc/$1/cmdline ]] && tr '\0' ' ' </proc/"$1"/cmdline | grep -qF -- "$2/hive.sock"
}

# daemon_pid DIR: the PID the daemon of DIR wrote to its lock file, if that
# process still runs it.
daemon_pid() {
	local pid=${PID[$1]:-}
	[[ -n $pid ]] || pid=$(cat "$1/hive.lock" 2>/dev/null || true)
	if ours "$pid" "$1"; then echo "$pid"; fi
}

# stop_node DIR: stop the node on DIR (hive down, then kill -9 of whatever
# is left of it: the daemon, and its plugin processes if they still run its
# executable) and forget it. Its containers stay.
stop_node() {
	local dir=$1 pid kids exe p i
	pid=$(daemon_pid "$dir")
	if [[ -n $pid ]]; then
		kids=$(children "$pid")
		exe=${EXE[$dir]:-$(readlink "/proc/$pid/exe" 2>/dev/null || true)}
		timeout 15 "$HIVE" -H "unix://$dir/hive.sock" down >/dev/null 2>&1 || true
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		! ours "$pid" "$dir" || kill -9 "$pid" 2>/dev/null || true
		for p in $kids; do
			if [[ -n $exe && $(readlink "/proc/$p/exe" 2>/dev/null) == "$exe" ]]; then
				kill -9 "$p" 2>/dev/null || true
			fi
		done
	fi
	for i in "${!DIRS[@]}"; do
		[[ ${DIRS[$i]} != "$dir" ]] || unset 'DIRS[i]'
	done
	DIRS=("${DIRS[@]}")
}

# started DIR ADDR: record the node just started on DIR.
started() {
	local dir=$1 id pid
	ADDR[$dir]=$2
	pid=$(cat "$dir/hive.lock" 2>/dev/null || true)
	ours "$pid" "$dir" || die "no hive daemon runs on $dir after it was started; its log:"$'\n'"$(tail -20 "$dir/hive.log" 2>/dev/null)"
	PID[$dir]=$pid
	EXE[$dir]=$(readlink "/proc/$pid/exe" || true)
	id=$(jq -r .node_id "$dir/node.json" 2>/dev/null || true)
	[[ -n $id && $id != null ]] || die "no node ID in $dir/node.json"
	NODE[$dir]=$id
	NODES+=("$id")
}

# alive DIR WHAT: fail at once, with the end of its log, if the node died.
alive() {
	kill -0 "${PID[$1]}" 2>/dev/null ||
		die "$2: the hive daemon on $1 (pid ${PID[$1]}) exited; the end of $1/hive.log:"$'\n'"$(tail -20 "$1/hive.log")"
}

# wait_leader DIR: poll until the node on DIR leads its cluster of one.
wait_leader() {
	local dir=$1 until
	until=$(deadline)
	until hc "$dir" info --format json 2>/dev/null | jq -e '.leader == true' >/dev/null; do
		alive "$dir" "waiting for the manager to lead"
		past "$until" && die "hive on $dir does not lead its cluster after ${TIMEOUT}s; its log:"$'\n'"$(tail -20 "$dir/hive.log")"
		sleep "$POLL"
	done
}

# ready_nodes DIR: how many nodes the manager on DIR lists as ready.
ready_nodes() {
	hc "$1" node ls --format json 2>/dev/null | jq '[.[] | select(.status.state == "ready")] | length' 2>/dev/null || echo 0
}

# wait_nodes DIR N: poll until the manager on DIR lists N nodes as ready.
wait_nodes() {
	local dir=$1 want=$2 until n
	until=$(deadline)
	while n=$(ready_nodes "$dir"); ((n < want)); do
		alive "$dir" "waiting for $want ready nodes"
		past "$until" && die "only $n of $want nodes ready after ${TIMEOUT}s; the manager's log:"$'\n'"$(tail -20 "$dir/hive.log")"
		sleep "$POLL"
	done
}

# running_tasks DIR SERVICE [DEAD_NODE]: tasks of SERVICE meant to run and
# running, per the manager on DIR, on any node but DEAD_NODE.
running_tasks() {
	hc "$1" service ps "$2" --format json 2>/dev/null |
		jq --arg dead "${3:-}" '[.[] | select(.desired_state == "running" and .status.state == "running" and .node_id != $dead)] | length' 2>/dev/null ||
		echo 0
}
