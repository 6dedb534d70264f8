package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/containers"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// LabelPrefix prefixes the labels the plugin keeps its own state in. They
// are not shown by Inspect and List, and a spec may not set them.
const LabelPrefix = "hive.containerd."

// The plugin's labels on a containerd container.
const (
	labelName        = LabelPrefix + "name"         // the container's name
	labelImage       = LabelPrefix + "image"        // the image reference as the spec gave it
	labelStopSignal  = LabelPrefix + "stop-signal"  // the signal Stop sends first
	labelStopTimeout = LabelPrefix + "stop-timeout" // the grace period, as a Go duration
	labelPorts       = LabelPrefix + "ports"        // host-mode ports, JSON
	labelHealth      = LabelPrefix + "healthcheck"  // the health check in effect, JSON
	labelStartedAt   = LabelPrefix + "started-at"   // start of the last run, RFC 3339
	labelFinishedAt  = LabelPrefix + "finished-at"  // end of the last run, RFC 3339
	labelExitCode    = LabelPrefix + "exit-code"    // exit code of the last run
	labelError       = LabelPrefix + "error"        // why the last start failed
	labelIP          = LabelPrefix + "ip"           // the address of the running task
	labelNetNS       = LabelPrefix + "netns"        // pinned network namespace of the last run
)

// exitCodeLost is the exit code of a run whose end nobody saw (its task
// vanished: containerd's state was lost, or the host rebooted).
const exitCodeLost = 255

// record returns the containerd container id, or sdk.ErrNotFound.
func (e *engine) record(ctx context.Context, id string) (containers.Container, error) {
	rec, err := e.client.ContainerService().Get(e.ctx(ctx), id)
	if err != nil {
		return rec, wrapErr(err, "container %s", id)
	}
	return rec, nil
}

// resolve finds a container by ID, or else by name.
func (e *engine) resolve(ctx context.Context, ref string) (containers.Container, error) {
	rec, err := e.record(ctx, ref)
	if err == nil || !cerrdefs.IsNotFound(err) || ref == "" {
		return rec, err
	}
	recs, lerr := e.client.ContainerService().List(e.ctx(ctx), labelFilter(map[string]string{labelName: ref}))
	if lerr != nil {
		return rec, wrapErr(lerr, "find container %s", ref)
	}
	for _, r := range recs {
		if r.Labels[labelName] == ref {
			return r, nil
		}
	}
	return rec, err
}

// process returns the task of container id, or nil when it has none.
func (e *engine) process(ctx context.Context, id string) (*tasktypes.Process, error) {
	resp, err := e.client.TaskService().Get(e.ctx(ctx), &tasksapi.GetRequest{ContainerID: id})
	if err != nil {
		err = native(err)
		if cerrdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, wrapErr(err, "task of container %s", id)
	}
	return resp.Process, nil
}

// processes returns every task of the namespace by container ID.
func (e *engine) processes(ctx context.Context) (map[string]*tasktypes.Process, error) {
	resp, err := e.client.TaskService().List(e.ctx(ctx), &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, wrapErr(native(err), "list tasks")
	}
	out := make(map[string]*tasktypes.Process, len(resp.Tasks))
	for _, p := range resp.Tasks {
		id := p.ContainerID
		if id == "" {
			id = p.ID // containerd 1.x lists tasks by ID only
		}
		out[id] = p
	}
	return out, nil
}

// labelFilter is a containerd filter matching every label of labels.
func labelFilter(labels map[string]string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, fmt.Sprintf("labels.%s==%s", strconv.Quote(k), strconv.Quote(v)))
	}
	return strings.Join(parts, ",")
}

// hasLabels reports whether got holds every label of want.
func hasLabels(got, want map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// userLabels returns the labels without the plugin's own.
func userLabels(l map[string]string) map[string]string {
	out := maps.Clone(l)
	for k := range out {
		if strings.HasPrefix(k, LabelPrefix) {
			delete(out, k)
		}
	}
	return out
}

// toContainer converts a containerd container and its task (nil for none)
// to the runtime's view.
func toContainer(rec containers.Container, p *tasktypes.Process, health healthState) *runtime.Container {
	l := rec.Labels
	c := &runtime.Container{
		ID:        rec.ID,
		Name:      l[labelName],
		Image:     l[labelImage],
		Labels:    userLabels(l),
		State:     runtime.StateCreated,
		CreatedAt: rec.CreatedAt,
		StartedAt: parseTime(l[labelStartedAt]),
		Ports:     decodePorts(l[labelPorts]),
		Error:     l[labelError],
	}
	if c.Image == "" {
		c.Image = rec.Image
	}
	if code, err := strconv.Atoi(l[labelExitCode]); err == nil {
		c.ExitCode = code
	}
	switch {
	case p == nil && l[labelFinishedAt] != "":
		c.State = runtime.StateExited
		c.FinishedAt = parseTime(l[labelFinishedAt])
	case p == nil && l[labelStartedAt] != "":
		c.State, c.ExitCode = runtime.StateExited, exitCodeLost
		c.Error = "the task is gone: containerd lost it (a restart of the host?)"
	case p == nil:
	case p.Status == tasktypes.Status_RUNNING, p.Status == tasktypes.Status_PAUSED, p.Status == tasktypes.Status_PAUSING:
		c.State = runtime.StateRunning
		if p.Status != tasktypes.Status_RUNNING {
			c.State = runtime.StatePaused
		}
		c.PID = int(p.Pid)
		c.ExitCode, c.Error = 0, ""
		if ip := l[labelIP]; ip != "" {
			c.Addresses = []string{ip}
		}
		c.Health, c.HealthLog = health.Status, health.Log
	case p.Status == tasktypes.Status_STOPPED:
		c.State = runtime.StateExited
		c.ExitCode = int(p.ExitStatus)
		c.Error = ""
		if p.ExitedAt != nil {
			c.FinishedAt = p.ExitedAt.AsTime()
		}
	case p.Status == tasktypes.Status_CREATED:
		// A start was cut short; the next Start begins again.
	default:
		c.State = runtime.StateUnknown
	}
	return c
}

// exitStatus is how a container that is not running ended.
func exitStatus(c *runtime.Container) *runtime.ExitStatus {
	return &runtime.ExitStatus{ExitCode: c.ExitCode, Error: c.Error, FinishedAt: c.FinishedAt}
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func encodePorts(ports []runtime.PortBinding) string {
	if len(ports) == 0 {
		return ""
	}
	b, _ := json.Marshal(ports)
	return string(b)
}

func decodePorts(s string) []runtime.PortBinding {
	if s == "" {
		return nil
	}
	var out []runtime.PortBinding
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil
	}
	return out
}

// setLabels updates the given labels of container id (an empty value
// deletes the label) and returns the updated record.
func (e *engine) setLabels(ctx context.Context, rec containers.Container, set map[string]string) (containers.Container, error) {
	rec.Labels = maps.Clone(rec.Labels)
	if rec.Labels == nil {
		rec.Labels = map[string]string{}
	}
	paths := make([]string, 0, len(set))
	for k, v := range set {
		if v == "" {
			delete(rec.Labels, k)
		} else {
			rec.Labels[k] = v
		}
		paths = append(paths, "labels."+k)
	}
	out, err := e.client.ContainerService().Update(e.ctx(ctx), rec, paths...)
	if err != nil {
		return rec, wrapErr(err, "update container %s", rec.ID)
	}
	return out, nil
}

// finalize records how a run of container id ended, once its task has
// stopped: the exit code and time go into labels, the network is released,
// the task is deleted (its shim exits), and the health check and the log
// copier of the run stop. It does nothing for a running container and is
// idempotent. The caller holds the container's lock.
func (r *Runtime) finalize(ctx context.Context, eng *engine, id string) error {
	rec, err := eng.record(ctx, id)
	if err != nil {
		return err
	}
	p, err := eng.process(ctx, id)
	if err != nil {
		return err
	}
	if p != nil && p.Status != tasktypes.Status_STOPPED {
		return nil
	}
	set := map[string]string{}
	switch {
	case p != nil:
		exited := time.Now()
		if p.ExitedAt != nil && !p.ExitedAt.AsTime().IsZero() {
			exited = p.ExitedAt.AsTime()
		}
		set[labelExitCode] = strconv.Itoa(int(p.ExitStatus))
		set[labelFinishedAt] = formatTime(exited)
	case rec.Labels[labelStartedAt] != "" && rec.Labels[labelFinishedAt] == "":
		set[labelExitCode] = strconv.Itoa(exitCodeLost)
		set[labelFinishedAt] = formatTime(time.Now())
	}
	r.health.stop(id)
	// From here on the steps go to the end even if the caller gives up:
	// a run half finalized would keep its network.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var netErr error
	if ns := rec.Labels[labelNetNS]; ns != "" {
		set[labelIP] = ""
		if netErr = eng.net.teardown(ctx, id, ns, decodePorts(rec.Labels[labelPorts])); netErr == nil {
			set[labelNetNS] = ""
		}
	}
	if len(set) > 0 {
		if _, err := eng.setLabels(ctx, rec, set); err != nil {
			return fmt.Errorf("record the end of container %s: %w", id, err)
		}
	}
	if netErr != nil {
		// The task is kept too: the next finalize tries again.
		return netErr
	}
	if p != nil {
		if _, err := eng.client.TaskService().Delete(eng.ctx(ctx), &tasksapi.DeleteTaskRequest{ContainerID: id}); err != nil {
			// Another plugin instance may have deleted it meanwhile.
			if again, perr := eng.process(ctx, id); perr != nil || again != nil {
				return wrapErr(err, "delete the task of container %s", id)
			}
		}
		r.logger.Debug("container exited", "container_id", id, "exit_code", p.ExitStatus)
	}
	eng.stopCopier(eng.containerDir(id), copierGrace)
	return nil
}

// notFound is the error for a container that does not exist.
func notFound(id string) error {
	return fmt.Errorf("container %s: no such container: %w", id, sdk.ErrNotFound)
}
