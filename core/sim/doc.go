// Package sim is hive's deterministic simulation harness: one manager (a
// memory store, the leader's controllers, the dispatcher and the control
// API) and any number of nodes (each an agent over its own fake runtime)
// assembled in one process on one fake clock, so that the reconciler, the
// scheduler and the agents can be driven through whole scenarios
// (create, scale, crash, restart, remove) and checked against the
// invariants every state must satisfy, as scripts with golden
// transcripts (see Scripts). Scale benchmarks use it too.
//
// # What runs
//
// New builds a Cluster of N nodes; Start runs what the daemon's leader runs,
// from the one list both share (core/leader): the replicated and global
// orchestrators (which apply the restart policy of
// core/orchestrator/restart), the task reaper, the update controller, node
// health, and the scheduler driver, here calling the real spread
// scheduler in process (plugins/scheduler-spread/spread). Node 0 is the
// manager's own node (its record is created as a manager, as the daemon
// does); the others register as workers through the dispatcher, and
// AddNode joins one more. Every node's agent talks to the one dispatcher
// in process, through a link that Partition can cut (its calls then fail
// as unreachable, and node health marks the node down once its heartbeats
// stop for the grace period), and drives its own runtime.Fake, which
// knows every image and whose containers are stamped with fake time.
// StopNode stops an agent (its containers keep running); StopLeader and
// StartLeader replace the leader's controllers by new ones.
// Services are created, scaled and removed through controlapi.Server, the
// way the HTTP API does it.
//
// # How time moves: Settle
//
// Nothing in core reads the wall clock: the controllers' resync and retry
// timers, the restart delay, the agent reporter's 50 ms batching window,
// heartbeats and backoffs all wait on the injected clock, a clock.Fake that
// moves only when the harness advances it. Settle(cond, maxFake) is the one
// loop that drives a scenario:
//
//  1. wait until the process is quiescent (see below);
//  2. if the safety invariants are checked at every step (the default),
//     check them, and fail at once on a violation;
//  3. if cond holds, return nil; if maxFake of fake time has passed since
//     Settle began, return an error that describes every task;
//  4. advance the fake clock by one step (10 ms by default), which fires
//     every timer now due, and go back to 1.
//
// Quiescence is what makes this deterministic without real sleeps. After
// an advance or an API call, work spreads through goroutines: a timer fires,
// a controller runs a pass and writes the store, the store publishes events,
// the dispatcher sends a node its new assignments, a runner drives the fake
// runtime, the reporter queues a status. None of it needs time to move, so
// the harness waits for it to finish before it moves time again. Start sets
// GOMAXPROCS to 1 for the life of the cluster; the harness then yields
// (runtime.Gosched) and reads the Go scheduler's own counts of running,
// runnable and in-syscall goroutines (runtime/metrics, /sched/goroutines/*)
// until, on several consecutive readings, no goroutine but the caller is
// running or ready to run and no store event was published in between.
// With one processor the caller is the only goroutine that can be running,
// so every other goroutine of the cluster is then blocked: on the fake
// clock, on a channel or on a store event, and only an advance of the clock
// or the next call of the test can wake it. A goroutine woken by a channel
// send or a fake timer is runnable at once, so a reading cannot miss work
// that has been started. (With several processors an idle one spinning for
// work counts as running, which is why the harness uses one.) The wait is
// bounded by a number of yields, so a runaway goroutine slows a test rather
// than hanging it. Tests that use a Cluster must not call t.Parallel:
// another test's goroutines would look like work to wait for.
//
// One processor also makes goroutine interleavings largely repeatable,
// and the rest of the run is made so: every ID is drawn from a generator
// seeded by WithSeed (one sequence per minter: the control API and each
// controller), and every Reconcile visits slots, nodes and services in
// sorted order. What is repeatable is the fake time at which things
// happen and the decisions taken, which is what the scripts below print.
//
// So a scenario reads as a script: a status that the reporter batches for
// 50 ms reaches the store after five 10 ms steps; a replacement held back
// by a 5 s restart delay has not started at 4 s of fake time and has by
// 6 s; and Settle reports how much fake time convergence took.
//
// # Invariants
//
// invariants.go holds the properties checked: never more than one task
// occupying a slot of a replicated service, nor a node of a global service;
// no running container that the store does not account for on that node;
// observed task states that never go backwards (watched on every store
// event); and, once a scenario has settled, every replicated service
// running exactly its replicas, every global service one task per eligible
// node, nothing left desired running on a drained node, and no container
// left behind by a deleted task. Each check is a plain function of a
// store.ReadTx (and the containers), usable without a Cluster.
//
// # Scripts
//
// Scenarios are scripts in testdata/*.txt, run by TestScripts in the style
// of etcd's raft testdata (github.com/cockroachdb/datadriven): each command
// is followed by "----" and the output it must print, so a reviewer reads
// the behaviour without reading Go. A script starts with
//
//	cluster nodes=3 [seed=1] [history=N]
//
// and goes on with commands, each run against the cluster then checked
// against the safety invariants once the cluster is quiescent:
//
//	create web [global] [replicas=3] [image=v2] [env=(A=1, B=2)]
//	       [constraint=node.labels.zone==eu] [restart=on-failure]
//	       [restart-delay=1s] [max-attempts=2] [parallelism=1] [delay=3s]
//	       [monitor=2s] [order=start-first] [failure-action=rollback]
//	       [network=(back, front)] [args=(exit, 0)] [healthcheck=2s]
//	       [depends=(db:service_healthy, init:service_completed_successfully)]
//	update web [the same arguments]     scale web replicas=10
//	network back [subnet=10.5.0.0/29]   (prints its subnet and VXLAN ID)
//	rollback web     remove web
//	kill-task web.2 [exit=0]            (waits until the store has it ended)
//	lose-node node-2     start-node node-2     add-node
//	partition node-2     heal node-2
//	drain node-2     activate node-2     pause node-2
//	label-node node-2 zone=eu     stop-leader     start-leader
//	advance 5s          moves fake time, whatever happens
//	settle [max=30s]    until converged; then checks every invariant
//	wait web update=completed|running=3 [trace] [max=60s]
//	                    until the update is in that state or that many
//	                    tasks run; trace prints each change of what the
//	                    slots run (1=v1+v2 2=- …) with its fake time
//	tasks [web …]       the tasks by service, slot or node, newest first:
//	                    name, node, desired and observed state, image tag,
//	                    creation time, env, error
//	addresses [web …]   the services' virtual IPs, then their tasks'
//	                    addresses by network, newest first
//	nodes     service web     slots web     containers
//
// An image is written as its tag: image=v2 is hive-test/web:v2; args are
// the test image's (runtime.Fake plays them: exit 0 ends at once with
// code 0), and healthcheck=2s sets the test image's check, which first
// passes 2s after the start. depends takes SERVICE[:CONDITION]
// (service_started when left out). A command that fails prints
// "error: …"; IDs in messages print as <id>. To add a scenario, write the
// commands with empty outputs, run
//
//	go test ./core/sim -run TestScripts -rewrite
//
// and read the transcript it wrote: it is the behaviour the script now
// pins. Run it again without -rewrite (it must pass, and pass again: a
// transcript that changes from run to run prints something the
// simulation does not make repeatable, such as the time a settle took).
// Checks a script cannot express (calls made to a runtime, health checks,
// the harness itself, random operations) stay Go tests.
//
// A Cluster is driven by one goroutine, the test's. Its cleanup (registered
// with t.Cleanup) stops every agent and controller, waits for them, and
// closes the store.
package sim
