package commands

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// slotView is one line of the progress display: a slot of a replicated
// service ("2/3") or a node of a global service.
type slotView struct {
	Label string
	// State is the state of the slot's current task; "new" while the
	// slot has no task yet.
	State types.TaskState
	// Detail is what the node says it is doing while preparing, such as
	// image pull progress; shown after the bar.
	Detail string
	// Blank shows the label alone: a slot an update has not reached yet.
	Blank bool
}

// progressView is what the progress display shows at one moment.
type progressView struct {
	// Prefix comes before the counts on the overall line ("rolling back
	// update: ").
	Prefix         string
	Running, Total int
	Slots          []slotView
	// Verify is the text after "verify: ", or "".
	Verify string
}

// tracker follows the tasks of one service until it converges or fails.
// It is a pure state machine: feed it task snapshots and the time with
// observe; it does no I/O.
type tracker struct {
	svc      *types.Service
	settings progressSettings
	// ignore holds tasks that had ended before the wait began; their
	// failures are not this command's.
	ignore map[string]bool

	failed       map[string]map[string]*types.Task // slot key -> failed task IDs
	pendingSince map[string]time.Time              // task ID -> first seen pending with an error
	endedSince   map[string]time.Time              // slot key -> first seen ended with no replacement
	runningSet   string
	runningSince time.Time
}

func newTracker(svc *types.Service, ignore map[string]bool, settings progressSettings) *tracker {
	return &tracker{
		svc:          svc,
		settings:     settings,
		ignore:       ignore,
		failed:       map[string]map[string]*types.Task{},
		pendingSince: map[string]time.Time{},
		endedSince:   map[string]time.Time{},
	}
}

// desiredRunning reports whether a task is meant to run (desired state
// ready or running).
func desiredRunning(t *types.Task) bool { return t.DesiredState <= types.TaskStateRunning }

// newer orders tasks newest first.
func newer(a, b *types.Task) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// slot is one place a task should run, with the tasks it has had.
type slot struct {
	key, label string
	tasks      []*types.Task // newest first
}

// current is the slot's task that counts: the newest one meant to run,
// else the newest one.
func (s *slot) current() *types.Task {
	for _, t := range s.tasks {
		if desiredRunning(t) {
			return t
		}
	}
	if len(s.tasks) > 0 {
		return s.tasks[0]
	}
	return nil
}

// slots groups the tasks by slot (replicated) or node (global). nodes is
// needed for a global service only.
func (tr *tracker) slots(tasks []*types.Task, nodes []*types.Node) []*slot {
	var out []*slot
	byKey := map[string]*slot{}
	add := func(key, label string) *slot {
		s := &slot{key: key, label: label}
		byKey[key] = s
		out = append(out, s)
		return s
	}
	if tr.svc.Spec.Mode == types.ModeGlobal {
		for _, n := range eligibleNodes(tr.svc, nodes) {
			add(n, truncID(n))
		}
		for _, t := range tasks {
			if t.NodeID != "" && desiredRunning(t) && byKey[t.NodeID] == nil {
				add(t.NodeID, truncID(t.NodeID))
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	} else {
		n := tr.svc.Spec.Replicas
		for i := uint64(1); i <= n; i++ {
			add(fmt.Sprint(i), fmt.Sprintf("%d/%d", i, n))
		}
	}
	for _, t := range tasks {
		key := t.NodeID
		if tr.svc.Spec.Mode != types.ModeGlobal {
			key = fmt.Sprint(t.Slot)
		}
		if s := byKey[key]; s != nil {
			s.tasks = append(s.tasks, t)
		}
	}
	for _, s := range out {
		sort.Slice(s.tasks, func(i, j int) bool { return newer(s.tasks[i], s.tasks[j]) })
	}
	return out
}

// eligibleNodes returns the IDs of the nodes a global service should run
// on: ready, active, and matching its constraints.
func eligibleNodes(svc *types.Service, nodes []*types.Node) []string {
	cons, _ := scheduler.ParseConstraints(svc.Spec.Task.Placement.Constraints)
	var out []string
	for _, n := range nodes {
		if n.Status.State != types.NodeStateReady || n.Spec.Availability != types.AvailabilityActive {
			continue
		}
		sn := &scheduler.Node{ID: n.ID, Hostname: n.Description.Hostname, Role: string(n.Spec.Role),
			Labels: n.Spec.Labels, Platform: scheduler.Platform{OS: n.Description.Platform.OS, Architecture: n.Description.Platform.Architecture}}
		ok := true
		for _, c := range cons {
			ok = ok && c.Match(sn)
		}
		if ok {
			out = append(out, n.ID)
		}
	}
	return out
}

// describeEnd says how a task ended: "failed: exit code 1: oom".
func describeEnd(t *types.Task) string {
	msg := t.Status.State.String()
	if t.Status.ExitCode != 0 {
		msg += fmt.Sprintf(": exit code %d", t.Status.ExitCode)
	}
	switch {
	case t.Status.Err != "":
		msg += ": " + t.Status.Err
	case t.Status.Message != "":
		msg += ": " + t.Status.Message
	}
	return msg
}

// observe takes a snapshot of the service's tasks (and, for a global
// service, the nodes) at time now. It returns what to display, whether the
// service converged, and an error when the wait should give up.
func (tr *tracker) observe(tasks []*types.Task, nodes []*types.Node, now time.Time) (progressView, bool, error) {
	slots := tr.slots(tasks, nodes)
	view := progressView{Total: len(slots)}
	var running []string
	allRunning := true
	for _, s := range slots {
		cur := s.current()
		sv := slotView{Label: s.label, State: types.TaskStateNew}
		if cur != nil {
			sv.State = cur.Status.State
			if sv.State == types.TaskStatePreparing && cur.Status.Message != "preparing" {
				sv.Detail = cur.Status.Message
			}
		}
		view.Slots = append(view.Slots, sv)
		if cur != nil && desiredRunning(cur) && cur.Status.State == types.TaskStateRunning {
			view.Running++
			running = append(running, cur.ID)
		} else {
			allRunning = false
		}
	}

	if err := tr.checkFailures(tasks, slots, now); err != nil {
		return view, false, err
	}

	if !allRunning {
		tr.runningSet = ""
		return view, false, nil
	}
	slices.Sort(running)
	set := strings.Join(running, ",")
	if set != tr.runningSet || tr.runningSince.IsZero() {
		tr.runningSet, tr.runningSince = set, now
	}
	left := tr.settings.stable - now.Sub(tr.runningSince)
	if left <= 0 {
		view.Verify = "Service converged"
		return view, true, nil
	}
	secs := int((left + time.Second - 1) / time.Second)
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	view.Verify = fmt.Sprintf("Waiting %d %s to verify that tasks are stable...", secs, unit)
	return view, false, nil
}

// checkFailures returns an error when the service cannot converge without
// help: a task was rejected, a task cannot be scheduled, a slot keeps
// failing, or a slot ended and nothing replaces it.
func (tr *tracker) checkFailures(tasks []*types.Task, slots []*slot, now time.Time) error {
	for _, t := range tasks {
		if tr.ignore[t.ID] {
			continue
		}
		if t.Status.State == types.TaskStateRejected {
			return fmt.Errorf("%s: %s", t.Name(), describeEnd(t))
		}
		if t.Status.State == types.TaskStatePending && t.Status.Err != "" && desiredRunning(t) {
			since, ok := tr.pendingSince[t.ID]
			if !ok {
				tr.pendingSince[t.ID] = now
				since = now
			}
			if now.Sub(since) >= tr.settings.pendingGrace {
				return fmt.Errorf("%s cannot be scheduled: %s", t.Name(), t.Status.Err)
			}
		} else {
			delete(tr.pendingSince, t.ID)
		}
	}
	for _, s := range slots {
		for _, t := range s.tasks {
			st := t.Status.State
			if tr.ignore[t.ID] || !(st == types.TaskStateFailed || st == types.TaskStateComplete || st == types.TaskStateOrphaned) {
				continue
			}
			if tr.failed[s.key] == nil {
				tr.failed[s.key] = map[string]*types.Task{}
			}
			tr.failed[s.key][t.ID] = t
		}
		if n := len(tr.failed[s.key]); n >= tr.settings.maxFailures {
			return fmt.Errorf("%s has failed %d times; the last task %s", s.tasks[0].Name(), n, lastFailure(tr.failed[s.key]))
		}
		cur := s.current()
		if cur == nil || !cur.Status.State.Terminal() || tr.ignore[cur.ID] {
			delete(tr.endedSince, s.key)
			continue
		}
		since, ok := tr.endedSince[s.key]
		if !ok {
			tr.endedSince[s.key] = now
			since = now
		}
		if now.Sub(since) >= tr.settings.pendingGrace {
			return fmt.Errorf("%s ended (%s) and nothing replaced it (restart condition %s)",
				cur.Name(), describeEnd(cur), tr.svc.Spec.Task.RestartPolicy.Condition)
		}
	}
	return nil
}

// lastFailure describes the newest of the failed tasks.
func lastFailure(failed map[string]*types.Task) string {
	var last *types.Task
	for _, t := range failed {
		if last == nil || newer(t, last) {
			last = t
		}
	}
	return describeEnd(last)
}

// progressBarWidth is the width of the bar inside its brackets, as
// docker draws it.
const progressBarWidth = 50

// progressBar draws how far a task state is from new to running:
// "[=====>      ]".
func progressBar(s types.TaskState) string {
	filled := 0
	if s <= types.TaskStateRunning {
		filled = progressBarWidth * (int(s) + 1) / (int(types.TaskStateRunning) + 1)
	}
	return "[" + strings.Repeat("=", filled) + ">" + strings.Repeat(" ", progressBarWidth-filled) + "]"
}

// stateWidth is the width of the longest state shown ("preparing").
const stateWidth = 9

// progressRenderer draws progress views: on a terminal it redraws the
// block in place; elsewhere it prints a slot's line only when its state
// changes, then the final lines.
type progressRenderer struct {
	out   io.Writer
	tty   bool
	drawn int               // lines drawn last time (tty)
	last  map[string]string // label -> state printed (not tty)
}

func newProgressRenderer(out io.Writer, tty bool) *progressRenderer {
	return &progressRenderer{out: out, tty: tty, last: map[string]string{}}
}

func slotLines(v progressView) []string {
	width := 0
	for _, s := range v.Slots {
		width = max(width, len(s.Label)+1)
	}
	lines := make([]string, 0, len(v.Slots))
	for _, s := range v.Slots {
		if s.Blank {
			lines = append(lines, s.Label+":")
			continue
		}
		line := fmt.Sprintf("%-*s %-*s %s", width, s.Label+":", stateWidth, s.State, progressBar(s.State))
		if s.Detail != "" {
			line += " " + s.Detail
		}
		lines = append(lines, line)
	}
	return lines
}

func overallLine(v progressView) string {
	return fmt.Sprintf("overall progress: %s%d out of %d tasks", v.Prefix, v.Running, v.Total)
}

// draw shows v.
func (r *progressRenderer) draw(v progressView) {
	if !r.tty {
		for i, line := range slotLines(v) {
			s := v.Slots[i]
			shown := s.State.String() + s.Detail
			if s.Blank {
				shown = ""
			}
			if r.last[s.Label] != shown {
				r.last[s.Label] = shown
				fmt.Fprintln(r.out, line)
			}
		}
		return
	}
	lines := append([]string{overallLine(v)}, slotLines(v)...)
	if v.Verify != "" {
		lines = append(lines, "verify: "+v.Verify)
	}
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn)
	}
	for _, l := range lines {
		b.WriteString("\x1b[2K" + l + "\n")
	}
	for i := len(lines); i < r.drawn; i++ {
		b.WriteString("\x1b[2K\n")
	}
	r.drawn = max(r.drawn, len(lines))
	io.WriteString(r.out, b.String())
}

// finish shows the last view: on a terminal a last redraw, elsewhere the
// overall line and, when converged, the verify line.
func (r *progressRenderer) finish(v progressView) {
	if r.tty {
		r.draw(v)
		return
	}
	r.draw(v)
	fmt.Fprintln(r.out, overallLine(v))
	if v.Verify != "" {
		fmt.Fprintln(r.out, "verify: "+v.Verify)
	}
}
