package types

import (
	"encoding/json"
	"fmt"
)

// TaskState is where a task is in its life. The order of the constants is
// the order a task moves through: a task's observed state never goes back.
// DesiredState uses the same type with only Ready, Running, Shutdown and
// Remove.
type TaskState int

// Task states, as in Swarm.
const (
	TaskStateNew TaskState = iota
	TaskStatePending
	TaskStateAssigned
	TaskStateAccepted
	TaskStatePreparing
	TaskStateReady
	TaskStateStarting
	TaskStateRunning
	TaskStateComplete
	TaskStateShutdown
	TaskStateFailed
	TaskStateRejected
	TaskStateRemove
	TaskStateOrphaned
)

var taskStateNames = [...]string{
	TaskStateNew:       "new",
	TaskStatePending:   "pending",
	TaskStateAssigned:  "assigned",
	TaskStateAccepted:  "accepted",
	TaskStatePreparing: "preparing",
	TaskStateReady:     "ready",
	TaskStateStarting:  "starting",
	TaskStateRunning:   "running",
	TaskStateComplete:  "complete",
	TaskStateShutdown:  "shutdown",
	TaskStateFailed:    "failed",
	TaskStateRejected:  "rejected",
	TaskStateRemove:    "remove",
	TaskStateOrphaned:  "orphaned",
}

func (s TaskState) String() string {
	if s >= 0 && int(s) < len(taskStateNames) {
		return taskStateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// ParseTaskState returns the state named s.
func ParseTaskState(s string) (TaskState, error) {
	for i, n := range taskStateNames {
		if n == s {
			return TaskState(i), nil
		}
	}
	return 0, fmt.Errorf("unknown task state %q", s)
}

// MarshalJSON writes the state's name.
func (s TaskState) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a state name.
func (s *TaskState) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("task state: %w", err)
	}
	v, err := ParseTaskState(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Terminal reports whether a task in this observed state will never run
// again.
func (s TaskState) Terminal() bool { return s > TaskStateRunning }

// Failed reports whether the state is a terminal state that counts as a
// failure for a restart policy of on-failure.
func (s TaskState) Failed() bool {
	return s == TaskStateFailed || s == TaskStateRejected || s == TaskStateOrphaned
}
