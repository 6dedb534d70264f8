package dockerapi

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/orchestrator"
	"github.com/hiveorch/hive/core/types"
)

// listTasks answers GET /tasks with dockerd's filters: id and name
// prefixes, label, service and node (each an ID, ID prefix or name;
// one that names nothing is a 404, as in dockerd), desired-state
// (running, shutdown or accepted, as hive's API selects them),
// _up-to-date (tasks of their service's current spec) and runtime.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r, "id", "name", "label", "service", "node", "desired-state", "_up-to-date", "runtime")
	if err != nil {
		writeError(w, err)
		return
	}
	for _, d := range f["desired-state"] {
		switch d {
		case api.DesiredRunning, api.DesiredShutdown, api.DesiredAccepted:
		default:
			writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "Invalid desired-state filter: '%s' (hive selects running, shutdown or accepted)", d))
			return
		}
	}
	ctx := r.Context()
	tasks, err := s.tasksMatching(ctx, f["service"], f["node"], f["desired-state"])
	if err != nil {
		writeError(w, err)
		return
	}
	// _up-to-date: tasks a rolling update would not replace, as swarmkit
	// tells them (a scale or a label change leaves them up to date).
	var services map[string]*types.Service
	if _, ok := f["_up-to-date"]; ok {
		sums, err := s.backend.ListServices(ctx)
		if err != nil {
			writeError(w, err)
			return
		}
		services = map[string]*types.Service{}
		for _, sum := range sums {
			services[sum.Service.ID] = sum.Service
		}
	}
	out := []swarm.Task{}
	for _, t := range tasks {
		if v := f["id"]; len(v) > 0 && !matchPrefix(t.ID, v) {
			continue
		}
		if v := f["name"]; len(v) > 0 && !matchPrefix(t.ContainerName(), v) {
			continue
		}
		if !matchLabels(t.Spec.Container.Labels, f["label"]) {
			continue
		}
		if v := f["runtime"]; len(v) > 0 && !matchPrefix(string(swarm.RuntimeContainer), v) {
			continue
		}
		if services != nil {
			if svc, ok := services[t.ServiceID]; !ok || !orchestrator.UpToDate(svc, t) {
				continue
			}
		}
		out = append(out, taskToDocker(t))
	}
	writeJSON(w, http.StatusOK, out)
}

// tasksMatching asks the backend for the tasks of any of services, on any
// of nodes, in any of the desired states (an empty list matches all), so
// that it resolves the references and selects the states as hive's own
// API does. Each task is returned once, in the backend's order.
func (s *Server) tasksMatching(ctx context.Context, services, nodes, desired []string) ([]*types.Task, error) {
	orAll := func(v []string) []string {
		if len(v) == 0 {
			return []string{""}
		}
		return v
	}
	seen := map[string]bool{}
	var out []*types.Task
	for _, svc := range orAll(services) {
		for _, node := range orAll(nodes) {
			for _, d := range orAll(desired) {
				ts, err := s.backend.ListTasks(ctx, api.TaskFilter{Service: svc, Node: node, DesiredState: d})
				if err != nil {
					return nil, err
				}
				for _, t := range ts {
					if !seen[t.ID] {
						seen[t.ID] = true
						out = append(out, t)
					}
				}
			}
		}
	}
	return out, nil
}

// findTask resolves a task reference as swarmkit does: the full ID, else
// a unique ID prefix.
func (s *Server) findTask(ctx context.Context, ref string) (*types.Task, error) {
	ts, err := s.backend.ListTasks(ctx, api.TaskFilter{})
	if err != nil {
		return nil, err
	}
	var matches []*types.Task
	for _, t := range ts {
		if t.ID == ref {
			return t, nil
		}
		if ref != "" && strings.HasPrefix(t.ID, ref) {
			matches = append(matches, t)
		}
	}
	switch len(matches) {
	case 0:
		return nil, errdefs.Newf(errdefs.ErrNotFound, "task %s not found", ref)
	case 1:
		return matches[0], nil
	}
	return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "task %s is ambiguous (%d matches found)", ref, len(matches))
}

// inspectTask answers GET /tasks/{id}.
func (s *Server) inspectTask(w http.ResponseWriter, r *http.Request) {
	t, err := s.findTask(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, taskToDocker(t))
}

// taskToDocker translates a task. hive's task states have swarm's names.
// PortStatus holds the host-mode ports, as swarmkit's does: ingress ports
// are the service's, in its Endpoint.
func taskToDocker(t *types.Task) swarm.Task {
	var nets []types.NetworkAttachmentConfig
	for _, n := range t.Networks {
		nets = append(nets, types.NetworkAttachmentConfig{Target: n.NetworkID})
	}
	out := swarm.Task{
		ID:          t.ID,
		Meta:        metaToDocker(t.Meta),
		Annotations: swarm.Annotations{Labels: map[string]string{}},
		Spec:        taskSpecToDocker(t.Spec, nets),
		ServiceID:   t.ServiceID,
		Slot:        int(t.Slot),
		NodeID:      t.NodeID,
		Status: swarm.TaskStatus{
			Timestamp: t.Status.Timestamp,
			State:     swarm.TaskState(t.Status.State.String()),
			Message:   t.Status.Message,
			Err:       t.Status.Err,
		},
		DesiredState: swarm.TaskState(t.DesiredState.String()),
	}
	if st := t.Status; st.ContainerID != "" || st.PID != 0 || st.ExitCode != 0 {
		out.Status.ContainerStatus = &swarm.ContainerStatus{ContainerID: st.ContainerID, PID: st.PID, ExitCode: st.ExitCode}
	}
	for _, p := range portsToDocker(t.Ports) {
		if p.PublishMode == swarm.PortConfigPublishModeHost {
			out.Status.PortStatus.Ports = append(out.Status.PortStatus.Ports, p)
		}
	}
	for _, n := range t.Networks {
		out.NetworksAttachments = append(out.NetworksAttachments, swarm.NetworkAttachment{
			Network: swarm.Network{ID: n.NetworkID}, Addresses: slices.Clone(n.Addresses)})
	}
	return out
}
