//go:build acceptance

package acceptance

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// event is the part of `hive events --format json` the tests read.
type event struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`
	Action string    `json:"action"`
	Actor  struct {
		ID         string            `json:"id"`
		Attributes map[string]string `json:"attributes"`
	} `json:"actor"`
}

// events replays the node's events with args (--since, --until,
// --filter) as JSON lines.
func (n *node) events(args ...string) []event {
	n.t.Helper()
	out := n.must(append([]string{"events", "--format", "json"}, args...)...)
	var evs []event
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			n.t.Fatalf("hive events line %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestEventsOfACreateScaleKillReplace: a service created with two
// replicas, scaled to three, one task's container killed and replaced;
// `hive events --since --until` replays it all in order (the service's
// create before its tasks', each task's running after its create, the
// killed task's failed with exit code 137 before its replacement runs),
// the filters pick what they name, and an --until in the past returns at
// once.
func TestEventsOfACreateScaleKillReplace(t *testing.T) {
	n := startHive(t)
	name := uniq("evweb")
	start := time.Now().UTC()
	createWeb(n, name, 2)
	n.must("service", "scale", name+"=3")
	if got := len(n.runningContainers(name)); got != 3 {
		t.Fatalf("%d running containers after scale, want 3", got)
	}
	victim := n.running(name)[1]
	if out, err := exec.Command("docker", "kill", victim).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v\n%s", err, out)
	}
	var killedTask string
	n.eventually(60*time.Second, "the killed task replaced", func() error {
		for _, tk := range n.tasks(name) {
			if tk.Status.ContainerID == victim {
				killedTask = tk.ID
			}
		}
		if r := n.running(name); len(r) != 3 || r[1] == victim {
			return fmt.Errorf("running %v", r)
		}
		return nil
	})
	until := time.Now().UTC().Add(time.Second).Format(time.RFC3339Nano)
	time.Sleep(1100 * time.Millisecond) // until is now in the past

	all := n.events("--since", start.Format(time.RFC3339Nano), "--until", until)
	pos := func(typ, action, id string) int {
		return slices.IndexFunc(all, func(e event) bool {
			return e.Type == typ && e.Action == action && (id == "" || e.Actor.ID == id)
		})
	}
	var svcID string
	for _, e := range all {
		if e.Type == "service" && e.Action == "create" && e.Actor.Attributes["name"] == name {
			svcID = e.Actor.ID
		}
	}
	if svcID == "" {
		t.Fatalf("no service create event for %s in:\n%s", name, describeEvents(all))
	}
	created := pos("service", "create", svcID)
	if u := pos("service", "update", svcID); u < created || all[u].Actor.Attributes["replicas.new"] != "3" {
		t.Errorf("the scale's service update (replicas.new=3) is missing or before the create:\n%s", describeEvents(all))
	}
	ofService := 0
	for i, e := range all {
		if e.Type != "task" || e.Actor.Attributes["service"] != name {
			continue
		}
		ofService++
		if i < created {
			t.Errorf("task event %d (%s %s) before the service's create", e.Seq, e.Action, e.Actor.ID)
		}
		if e.Action == "running" {
			if c := pos("task", "create", e.Actor.ID); c < 0 || c > i {
				t.Errorf("task %s runs (seq %d) before its create event", e.Actor.ID, e.Seq)
			}
		}
	}
	if ofService == 0 {
		t.Fatalf("no task events of %s:\n%s", name, describeEvents(all))
	}
	failed := pos("task", "failed", killedTask)
	if failed < 0 || all[failed].Actor.Attributes["exit_code"] != "137" {
		t.Fatalf("no failed event with exit code 137 for the killed task %s:\n%s", killedTask, describeEvents(all))
	}
	replaced := false
	for _, e := range all[failed:] {
		if e.Type == "task" && e.Action == "running" && e.Actor.Attributes["service"] == name && e.Actor.ID != killedTask &&
			e.Actor.Attributes["slot"] == all[failed].Actor.Attributes["slot"] {
			replaced = true
		}
	}
	if !replaced {
		t.Errorf("no running event of a replacement in slot %s after the failure:\n%s", all[failed].Actor.Attributes["slot"], describeEvents(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq || all[i].Time.Before(all[i-1].Time) {
			t.Errorf("events out of order at seq %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}

	// Filters: only this service's task events.
	since := start.Format(time.RFC3339Nano)
	for _, e := range n.events("--since", since, "--until", until, "--filter", "type=task", "--filter", "service="+name) {
		if e.Type != "task" || e.Actor.Attributes["service"] != name {
			t.Errorf("filtered replay holds %s %s of %q", e.Type, e.Action, e.Actor.Attributes["service"])
		}
	}
	if evs := n.events("--since", since, "--until", until, "--filter", "event=failed", "--filter", "service="+name); len(evs) != 1 || evs[0].Actor.ID != killedTask {
		t.Errorf("event=failed replay: %s", describeEvents(evs))
	}

	// An --until in the past returns at once, streaming nothing new.
	began := time.Now()
	n.events("--since", since, "--until", until)
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("hive events with --until in the past took %s", d)
	}
}

func describeEvents(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%d %s %s %s %v\n", e.Seq, e.Type, e.Action, e.Actor.ID, e.Actor.Attributes)
	}
	return b.String()
}
