package allocator

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/ipam"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// MsgAllocated is the status message of a task whose addresses came after
// it waited for a full subnet; MsgWaiting the message while it waits.
const (
	MsgAllocated = "network addresses allocated"
	MsgWaiting   = "pending network address allocation"
)

// maxTasksPerCommand bounds the tasks one command gives addresses to.
const maxTasksPerCommand = 200

// Allocator gives tasks their addresses on their networks. Leader only.
type Allocator struct {
	store  *store.Store
	clock  clock.Clock
	logger *slog.Logger
	Resync time.Duration
}

// New returns an allocator over s.
func New(s *store.Store, clk clock.Clock, logger *slog.Logger) *Allocator {
	return &Allocator{store: s, clock: clk, logger: logger, Resync: 30 * time.Second}
}

// Run allocates until ctx is done.
func (a *Allocator) Run(ctx context.Context) error {
	return controller.Run(ctx, controller.Config{
		Name: "allocator", Source: a.store, Filter: relevant,
		Resync: a.Resync, Clock: a.clock, Logger: a.logger, Pass: a.pass,
	})
}

// relevant selects the events that may call for an address or free one:
// any network or service change, a task on a network created or deleted,
// and a task update that made it give its addresses up.
func relevant(ev store.Event) bool {
	switch {
	case ev.Action == store.ActionReset, ev.Network != nil, ev.Service != nil:
		return true
	case ev.Task != nil && len(ev.Task.Networks) > 0:
		if ev.Action != store.ActionUpdate || ev.OldTask == nil {
			return true
		}
		return HoldsAddresses(ev.Task) != HoldsAddresses(ev.OldTask)
	}
	return false
}

func (a *Allocator) pass(ctx context.Context) (time.Time, error) {
	for {
		more := false
		var given []string
		err := a.store.Update(ctx, func(tx store.Tx) error {
			var err error
			given, more, err = Allocate(tx, a.clock.Now())
			return err
		})
		if err != nil {
			return time.Time{}, fmt.Errorf("allocate task addresses: %w", err)
		}
		for _, id := range given {
			a.logger.Debug("task addresses allocated", "task_id", id)
		}
		if !more {
			return time.Time{}, nil
		}
	}
}

// Allocate gives every task in tx that awaits addresses and may run one
// on each of its networks, oldest task first, lowest free address first,
// and records them through tx; a task whose subnet is full stays pending,
// its status saying why. It handles at most 200 tasks (more reports that
// others are left) and returns the IDs of the tasks it gave addresses.
func Allocate(tx store.Tx, now time.Time) (given []string, more bool, err error) {
	var waiting []*types.Task
	for _, t := range tx.Tasks() {
		if t.AwaitsAddresses() && HoldsAddresses(t) && orchestrator.Occupies(t) {
			waiting = append(waiting, t)
		}
	}
	if len(waiting) == 0 {
		return nil, false, nil
	}
	slices.SortFunc(waiting, func(a, b *types.Task) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ServiceName, b.ServiceName); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Slot, b.Slot); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	spaces, err := Spaces(tx, "")
	if err != nil {
		return nil, false, err
	}
	written := 0
	for _, cur := range waiting {
		if written == maxTasksPerCommand {
			return given, true, nil
		}
		t := cur.Copy()
		if reason := assign(tx, spaces, t); reason != "" {
			if t.Status.State == types.TaskStatePending && t.Status.Err == reason {
				continue
			}
			t = cur.Copy()
			t.Status = types.TaskStatus{State: types.TaskStatePending, Timestamp: now, Message: MsgWaiting, Err: reason}
		} else {
			given = append(given, t.ID)
			if t.Status.Err != "" {
				t.Status = types.TaskStatus{State: t.Status.State, Timestamp: now, Message: MsgAllocated}
			}
		}
		if err := tx.UpdateTask(t); err != nil {
			return nil, false, err
		}
		written++
	}
	return given, false, nil
}

// assign gives t an address on each network it has none on, from
// spaces; when one network has none left (or is gone) it gives t none at
// all, releasing what it took, and returns why.
func assign(tx store.ReadTx, spaces map[string]*ipam.Space, t *types.Task) string {
	var took []*types.NetworkAttachment
	reason := ""
	for i := range t.Networks {
		att := &t.Networks[i]
		if len(att.Addresses) > 0 {
			continue
		}
		space := spaces[att.NetworkID]
		if space == nil {
			reason = fmt.Sprintf("network %s no longer exists: update the service to leave it", att.NetworkID)
			break
		}
		addr, err := space.Allocate()
		if err != nil {
			reason = fmt.Sprintf("network %s: %v", tx.Network(att.NetworkID).Spec.Name, err)
			break
		}
		att.Addresses = []netip.Prefix{addr}
		took = append(took, att)
	}
	if reason != "" {
		for _, att := range took {
			spaces[att.NetworkID].Release(att.Addresses[0].Addr())
		}
	}
	return reason
}
