package controlapi

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/controller"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// ServiceLogs sends the output of a service's tasks to sink. Without
// Follow, the lines of every task (each cut to the last Tail lines) are
// merged in time order. With Follow, lines are sent as they come, and tasks
// that start later (replacements, scale up) are followed too.
func (s *Server) ServiceLogs(ctx context.Context, ref string, opts api.LogOptions, sink func(api.LogLine) error) error {
	svc, err := s.GetService(ctx, ref)
	if err != nil {
		return err
	}
	ropts := runtime.LogOptions{Follow: opts.Follow, Tail: opts.Tail, Since: opts.Since, Timestamps: true}
	if !opts.Follow {
		return s.mergedLogs(ctx, svc, ropts, opts.Timestamps, sink)
	}
	return s.followLogs(ctx, svc, ropts, opts.Timestamps, sink)
}

// logTasks returns the service's tasks that have a container, by slot,
// and whether the service still exists.
func (s *Server) logTasks(ctx context.Context, serviceID string) (tasks []*types.Task, hostnames map[string]string, exists bool) {
	hostnames = map[string]string{}
	s.view(ctx, func(tx store.ReadTx) {
		exists = tx.Service(serviceID) != nil
		for _, t := range tx.TasksByService(serviceID) {
			if t.Status.ContainerID != "" {
				tasks = append(tasks, t.Copy())
			}
		}
		for _, n := range tx.Nodes() {
			hostnames[n.ID] = n.Description.Hostname
		}
	})
	slices.SortFunc(tasks, compareTasks)
	return tasks, hostnames, exists
}

func logLine(t *types.Task, hostname string, e runtime.LogEntry, timestamps bool) api.LogLine {
	l := api.LogLine{TaskID: t.ID, TaskName: t.Name(), NodeID: t.NodeID, NodeHostname: hostname,
		Stream: e.Stream, Line: string(e.Line)}
	if timestamps {
		l.Time = e.Time
	}
	return l
}

func (s *Server) mergedLogs(ctx context.Context, svc *types.Service, opts runtime.LogOptions, timestamps bool, sink func(api.LogLine) error) error {
	tasks, hostnames, _ := s.logTasks(ctx, svc.ID)
	type entry struct {
		t *types.Task
		e runtime.LogEntry
	}
	var all []entry
	for _, t := range tasks {
		err := s.logs.TaskLogs(ctx, t, opts, func(e runtime.LogEntry) error {
			all = append(all, entry{t, e})
			return nil
		})
		if err != nil {
			s.logger.Debug("task logs unavailable", "task_id", t.ID, "error", err)
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int { return a.e.Time.Compare(b.e.Time) })
	for _, x := range all {
		if err := sink(logLine(x.t, hostnames[x.t.NodeID], x.e, timestamps)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// followLogs follows the output of every task of the service that has a
// container, attaching to new ones as the store shows them, until ctx is
// done, sink fails, the service is deleted or the store closes.
func (s *Server) followLogs(ctx context.Context, svc *types.Service, opts runtime.LogOptions, timestamps bool, sink func(api.LogLine) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan api.LogLine, 256)
	var wg sync.WaitGroup
	defer wg.Wait()
	following := map[string]bool{}
	initial := true
	attach := func(ctx context.Context) (time.Time, error) {
		defer func() { initial = false }()
		tasks, hostnames, exists := s.logTasks(ctx, svc.ID)
		if !exists {
			cancel()
			return time.Time{}, nil
		}
		for _, t := range tasks {
			if following[t.ID] {
				continue
			}
			following[t.ID] = true
			o := opts
			if !initial {
				// A task that started while following: all of its output
				// is new.
				o.Tail = -1
			}
			wg.Add(1)
			go func(t *types.Task, host string) {
				defer wg.Done()
				err := s.logs.TaskLogs(ctx, t, o, func(e runtime.LogEntry) error {
					select {
					case lines <- logLine(t, host, e, timestamps):
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
				if err != nil && ctx.Err() == nil {
					s.logger.Debug("task logs ended", "task_id", t.ID, "error", err)
				}
			}(t, hostnames[t.NodeID])
		}
		return time.Time{}, nil
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		defer cancel() // the store closed: the follow ends
		_ = controller.Run(ctx, controller.Config{
			Name: "logs", Source: s.store, Clock: s.clock, Logger: s.logger.With("service_id", svc.ID), Pass: attach,
			Filter: func(ev store.Event) bool {
				return (ev.Service != nil && ev.Service.ID == svc.ID) ||
					(ev.Task != nil && ev.Task.ServiceID == svc.ID && ev.Task.Status.ContainerID != "")
			},
		})
	}()
	// Before wg.Wait: no follower starts once the watch has ended.
	defer func() { cancel(); <-watched }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			if err := sink(l); err != nil {
				return err
			}
		}
	}
}
