package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// createForUpdate creates a converged service web to update.
func createForUpdate(t *testing.T, h *harness) {
	t.Helper()
	h.mustRun("service", "create", "-d", "--name", "web", "--replicas", "2", "-p", "8080:80", "-e", "OLD=1", "-e", "KEEP=1",
		"--label", "old=x", "--constraint", "node.labels.zone==a", "--mount", "type=tmpfs,target=/old",
		"--health-cmd", "true", "hive-test/web:v1")
}

func TestUpdateAppliesEveryFlagToTheSpec(t *testing.T) {
	h := newHarness(t)
	createForUpdate(t, h)
	out := h.mustRun("service", "update", "-d", "--image", "hive-test/web:v2",
		"--env-add", "NEW=2", "--env-add", "KEEP=2", "--env-rm", "OLD",
		"--label-add", "team=web", "--label-rm", "old",
		"--constraint-add", "node.role==manager", "--constraint-rm", "node.labels.zone==a",
		"--mount-add", "type=volume,source=data,target=/data", "--mount-rm", "/old",
		"--publish-add", "9090:90", "--publish-rm", "80",
		"--replicas", "4", "--limit-cpu", "1", "--limit-memory", "64m", "--reserve-memory", "32m",
		"--restart-condition", "on-failure", "--restart-delay", "1s", "--restart-max-attempts", "2",
		"--update-parallelism", "2", "--update-delay", "1s", "--update-order", "start-first",
		"--update-failure-action", "rollback", "--update-monitor", "10s", "--update-max-failure-ratio", "0.25",
		"--rollback-parallelism", "0", "--rollback-order", "start-first",
		"--health-interval", "2s", "--health-retries", "5", "--force", "web")
	if out != "web\n" {
		t.Errorf("stdout %q, want the service name", out)
	}
	s := h.b.Service("web")
	d := func(v time.Duration) *types.Duration { x := types.Duration(v); return &x }
	want := types.ServiceSpec{
		Name: "web", Labels: map[string]string{"team": "web"}, Mode: types.ModeReplicated, Replicas: 4,
		Task: types.TaskSpec{
			Container: types.ContainerSpec{
				Image: "hive-test/web:v2", Env: []string{"NEW=2", "KEEP=2"},
				Mounts:      []types.Mount{{Type: types.MountVolume, Source: "data", Target: "/data"}},
				Healthcheck: &types.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: types.Duration(2 * time.Second), Retries: 5},
			},
			Resources: types.Requirements{Limits: types.Resources{NanoCPUs: 1e9, MemoryBytes: 64 << 20},
				Reservations: types.Resources{MemoryBytes: 32 << 20}},
			RestartPolicy: types.RestartPolicy{Condition: types.RestartOnFailure, Delay: d(time.Second), MaxAttempts: 2},
			Placement:     types.Placement{Constraints: []string{"node.role==manager"}},
			ForceUpdate:   1,
		},
		Endpoint: types.EndpointSpec{Mode: types.EndpointVIP, Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 90, PublishedPort: 9090, PublishMode: "ingress"}}},
		Update: &types.UpdateConfig{Parallelism: 2, Delay: types.Duration(time.Second), FailureAction: types.FailureRollback,
			Monitor: d(10 * time.Second), MaxFailureRatio: 0.25, Order: types.OrderStartFirst},
		Rollback: &types.UpdateConfig{Parallelism: 0, FailureAction: types.FailurePause, Monitor: d(5 * time.Second), Order: types.OrderStartFirst},
	}
	if !reflect.DeepEqual(s.Spec, want) {
		t.Errorf("spec after the update:\n%+v\nwant:\n%+v", s.Spec, want)
	}
	if s.PreviousSpec == nil || s.PreviousSpec.Task.Container.Image != "hive-test/web:v1" {
		t.Errorf("previous spec = %+v", s.PreviousSpec)
	}

	// --no-healthcheck replaces the check; --force counts up.
	h.mustRun("service", "update", "-d", "--no-healthcheck", "--force", "web")
	if s := h.b.Service("web").Spec.Task; !reflect.DeepEqual(s.Container.Healthcheck, &types.HealthConfig{Test: []string{"NONE"}}) || s.ForceUpdate != 2 {
		t.Errorf("after --no-healthcheck --force: health check %+v, force %d", s.Container.Healthcheck, s.ForceUpdate)
	}
}

func TestUpdateTakesEveryOptionOfCreate(t *testing.T) {
	h := newHarness(t)
	createForUpdate(t, h)
	file := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(file, []byte("v"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.mustRun("secret", "create", "db_pw", file)
	h.mustRun("config", "create", "app.conf", file)
	h.mustRun("service", "update", "-d", "--workdir", "/srv", "--user", "1000:1000", "--hostname", "{{.Service.Name}}-{{.Task.Slot}}", "--entrypoint", "/bin/sh -c", "--args", "echo 'hi there'",
		"--stop-signal", "quit", "--stop-grace-period", "20s", "--container-label-add", "tier=front", "--container-label-add", "gone=x",
		"--secret-add", "db_pw", "--config-add", "source=app.conf,target=/etc/app.conf",
		"--health-cmd", "curl -f localhost", "--health-timeout", "3s", "--health-start-period", "1s",
		"--restart-window", "1m", "--reserve-cpu", "0.5", "--rollback-delay", "2s", "--rollback-failure-action", "continue",
		"--rollback-max-failure-ratio", "0.5", "--rollback-monitor", "1s", "web")
	ct := h.b.Service("web").Spec.Task.Container
	s := h.b.Service("web").Spec
	d := func(v time.Duration) types.Duration { return types.Duration(v) }
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"workdir", ct.Dir, "/srv"},
		{"user", ct.User, "1000:1000"},
		{"hostname", ct.Hostname, "{{.Service.Name}}-{{.Task.Slot}}"},
		{"entrypoint", ct.Command, []string{"/bin/sh", "-c"}},
		{"args", ct.Args, []string{"echo", "hi there"}},
		{"stop signal", ct.StopSignal, "SIGQUIT"},
		{"stop grace period", *ct.StopGracePeriod, d(20 * time.Second)},
		{"container labels", ct.Labels, map[string]string{"tier": "front", "gone": "x"}},
		{"secret", ct.Secrets[0].SecretName, "db_pw"},
		{"config", ct.Configs[0].ConfigName + " " + ct.Configs[0].File.Name, "app.conf /etc/app.conf"},
		{"health check", *ct.Healthcheck, types.HealthConfig{Test: []string{"CMD-SHELL", "curl -f localhost"}, Timeout: d(3 * time.Second), StartPeriod: d(time.Second)}},
		{"restart window", *s.Task.RestartPolicy.Window, d(time.Minute)},
		{"reservation", s.Task.Resources.Reservations.NanoCPUs, int64(5e8)},
		{"rollback policy", [4]any{s.Rollback.Delay, s.Rollback.FailureAction, s.Rollback.MaxFailureRatio, *s.Rollback.Monitor},
			[4]any{d(2 * time.Second), types.FailureContinue, 0.5, d(time.Second)}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s after the update: %v, want %v", c.name, c.got, c.want)
		}
	}

	h.mustRun("service", "update", "-d", "--container-label-rm", "gone", "--secret-rm", "db_pw", "--config-rm", "app.conf",
		"--workdir", "", "--user", "", "--args", "", "web")
	ct = h.b.Service("web").Spec.Task.Container
	if !reflect.DeepEqual(ct.Labels, map[string]string{"tier": "front"}) || len(ct.Secrets)+len(ct.Configs) != 0 || ct.Dir+ct.User != "" || len(ct.Args) != 0 {
		t.Errorf("after the removals: labels %v, secrets %v, configs %v, dir %q, user %q, args %q", ct.Labels, ct.Secrets, ct.Configs, ct.Dir, ct.User, ct.Args)
	}
}

func TestUpdateRetriesOnlyAVersionConflict(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "-d", "--name", "web", "nginx")
	updates := func() (n int) {
		for _, c := range h.b.Calls() {
			if c == "UpdateService" {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct {
		err   error
		tries int
	}{
		{fmt.Errorf("%w: service web changed since it was read (version 1, now 2): read it again and retry", errdefs.ErrVersionConflict), 5},
		// A conflict of another kind is not retried, whatever its words.
		{fmt.Errorf("%w: port 8080 is already published by service api, which changed since", errdefs.ErrConflict), 1},
	} {
		before := updates()
		h.b.Err["UpdateService"] = tt.err
		_, errOut, code := h.run("service", "update", "-d", "--replicas", "2", "web")
		if want := "Error: update web: " + errdefs.Message(tt.err); code != 1 || !strings.HasPrefix(errOut, want) {
			t.Errorf("exit %d, stderr %q; want %q", code, errOut, want)
		}
		if got := updates() - before; got != tt.tries {
			t.Errorf("%v: UpdateService called %d times, want %d", tt.err, got, tt.tries)
		}
	}
	delete(h.b.Err, "UpdateService")
	h.mustRun("service", "update", "-d", "--replicas", "2", "web")
	if n := h.b.Service("web").Spec.Replicas; n != 2 {
		t.Errorf("replicas %d after the conflicts ended", n)
	}
}

func TestUpdateBadInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	createForUpdate(t, h)
	h.mustRun("service", "create", "-d", "--name", "agent", "--mode", "global", "busybox")
	version := h.b.Service("web").Version
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--update-failure-action", "retry", "web"}, `invalid --update-failure-action "retry": want pause, continue or rollback`},
		{[]string{"--rollback-failure-action", "rollback", "web"}, `invalid --rollback-failure-action "rollback": want pause or continue`},
		{[]string{"--update-max-failure-ratio", "2", "web"}, `invalid --update-max-failure-ratio "2": want a fraction from 0 to 1`},
		{[]string{"--update-order", "any", "web"}, `invalid --update-order "any": want stop-first or start-first`},
		{[]string{"--update-delay", "soon", "web"}, `invalid --update-delay "soon"`},
		{[]string{"--no-healthcheck", "--health-cmd", "true", "web"}, "--no-healthcheck conflicts with --health-cmd"},
		{[]string{"--health-interval", "1us", "web"}, "use at least 1ms"},
		{[]string{"--publish-rm", "81", "web"}, "invalid --publish-rm 81: the service publishes no such port (it publishes *:8080->80/tcp)"},
		{[]string{"--mount-rm", "/nothing", "web"}, "invalid --mount-rm /nothing: the service has no mount at that target"},
		{[]string{"--replicas", "3", "agent"}, "invalid --replicas with --mode global: service agent runs one task on every node"},
		{[]string{"--mount-add", "target=/a", "--mount-add", "type=tmpfs,target=/a/", "web"}, `invalid --mount-add "type=tmpfs,target=/a/": /a is already a mount target`},
		{[]string{"--env-add", "=1", "web"}, `invalid --env-add "=1": the variable name before '=' is empty`},
		{[]string{"--constraint-add", "node.role=manager", "web"}, `invalid --constraint-add "node.role=manager": want KEY==VALUE or KEY!=VALUE`},
		{[]string{"--limit-cpu", "0.5", "--reserve-cpu", "1", "web"}, "invalid --reserve-cpu 1: more than --limit-cpu 0.5"},
		{[]string{"--workdir", "srv", "web"}, `invalid --workdir "srv": it must be an absolute path`},
		{[]string{"--entrypoint", "", "web"}, "invalid --entrypoint: it is empty"},
		{[]string{"--args", `"open`, "web"}, "invalid --args: unterminated quote"},
		{[]string{"--secret-rm", "nothing", "web"}, "invalid --secret-rm nothing: the service is not granted that secret"},
		{[]string{"--image", "Web:2", "web"}, "invalid image reference"},
		{[]string{"--rollback", "--image", "x", "web"}, "--rollback cannot be combined with --image"},
		{[]string{"nope"}, `service "nope" not found`},
		{[]string{}, `"hive service update" requires exactly a SERVICE`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := h.run(append([]string{"service", "update", "-d"}, tt.args...)...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want a failure saying %q", code, errOut, tt.want)
			}
		})
	}
	if got := h.b.Service("web").Version; got != version {
		t.Errorf("the service changed (version %d -> %d) though every update was refused", version, got)
	}
}

func TestCreateTakesThePolicyAndHealthFlags(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "-d", "--name", "web", "--update-parallelism", "0", "--update-order", "start-first",
		"--rollback-monitor", "3s", "--health-cmd", "/web healthcheck", "--health-timeout", "2s", "--health-start-period", "5s", "nginx")
	s := h.b.Service("web").Spec
	m3, m5 := types.Duration(3*time.Second), types.Duration(5*time.Second)
	if !reflect.DeepEqual(s.Update, &types.UpdateConfig{Parallelism: 0, FailureAction: types.FailurePause, Monitor: &m5, Order: types.OrderStartFirst}) {
		t.Errorf("update policy %+v", s.Update)
	}
	if !reflect.DeepEqual(s.Rollback, &types.UpdateConfig{Parallelism: 1, FailureAction: types.FailurePause, Monitor: &m3, Order: types.OrderStopFirst}) {
		t.Errorf("rollback policy %+v", s.Rollback)
	}
	want := &types.HealthConfig{Test: []string{"CMD-SHELL", "/web healthcheck"}, Timeout: types.Duration(2 * time.Second), StartPeriod: m5}
	if !reflect.DeepEqual(s.Task.Container.Healthcheck, want) {
		t.Errorf("health check %+v, want %+v", s.Task.Container.Healthcheck, want)
	}
	h.mustRun("service", "create", "-d", "--name", "quiet", "--no-healthcheck", "nginx")
	if hc := h.b.Service("quiet").Spec.Task.Container.Healthcheck; !hc.Disabled() {
		t.Errorf("--no-healthcheck gave %+v", hc)
	}
}

func TestUpdateShowsProgressUntilConverged(t *testing.T) {
	h := newHarness(t)
	createForUpdate(t, h)
	out := h.mustRun("service", "update", "--image", "hive-test/web:v2", "web")
	full := "[==================================================>]"
	// The slots show the states they pass through, one slot after the
	// other; each ends running.
	if !strings.HasPrefix(out, "web\n") || !strings.Contains(out, "\n1/2: running   "+full+"\n") || !strings.Contains(out, "\n2/2: running   "+full+"\n") ||
		!strings.HasSuffix(out, "running   "+full+"\noverall progress: 2 out of 2 tasks\nverify: Service converged\n") {
		t.Errorf("stdout:\n%s\nwant web, each slot running, then convergence", out)
	}
	for _, tk := range h.b.TasksOf("web") {
		if tk.DesiredState == types.TaskStateRunning && tk.Spec.Container.Image != "hive-test/web:v2" {
			t.Errorf("task %s still runs %s", tk.ID, tk.Spec.Container.Image)
		}
	}
}

func TestUpdateEndsWithTheReasonWhenItPauses(t *testing.T) {
	h := newHarness(t)
	createForUpdate(t, h)
	h.b.AutoRun = false
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !h.b.Called("UpdateService") {
			time.Sleep(time.Millisecond)
		}
		_ = h.b.SetUpdateStatus("web", &types.UpdateStatus{State: types.UpdatePaused,
			Message: "update paused due to failure or early termination of task t9 (web.1): task: non-zero exit (3)"})
	}()
	_, errOut, code := h.run("service", "update", "--image", "hive-test/web:crash", "web")
	<-done
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"Error: update paused due to failure or early termination of task t9 (web.1): task: non-zero exit (3)",
		"The update of service web is paused",
		"'hive service rollback web'",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}

func TestRollbackCommand(t *testing.T) {
	h := newHarness(t)
	createForUpdate(t, h)
	_, errOut, code := h.run("service", "rollback", "web")
	if code != 1 || !strings.Contains(errOut, "has no previous spec to roll back to") {
		t.Errorf("rollback of a service never updated: exit %d, %q", code, errOut)
	}
	h.mustRun("service", "update", "-d", "--image", "hive-test/web:v2", "web")
	out := h.mustRun("service", "rollback", "web")
	if !strings.HasPrefix(out, "web\nrollback: manually requested rollback\n") || !strings.HasSuffix(out, "overall progress: rolling back update: 2 out of 2 tasks\nverify: Service converged\n") {
		t.Errorf("stdout:\n%s", out)
	}
	if img := h.b.Service("web").Spec.Task.Container.Image; img != "hive-test/web:v1" {
		t.Errorf("after the rollback the image is %s", img)
	}
	out = h.mustRun("service", "update", "--rollback", "-d", "web")
	if out != "web\n" || h.b.Service("web").Spec.Task.Container.Image != "hive-test/web:v2" {
		t.Errorf("update --rollback: %q, image %s", out, h.b.Service("web").Spec.Task.Container.Image)
	}
}

func TestInspectPrettyShowsTheUpdate(t *testing.T) {
	h := newHarness(t)
	createForUpdate(t, h)
	h.mustRun("service", "update", "-d", "--image", "hive-test/web:v2", "--update-delay", "2s", "web")
	testutil.Eventually(t, 10*time.Second, "the update completes", func() bool {
		// The status of this update, not the create's, which may still
		// be stored when the update returns.
		// And every task on the new image: a task the orchestrator
		// made from the create's spec after the update would start
		// another update.
		svc := h.b.Service("web")
		st := svc.UpdateStatus
		for _, tk := range h.b.TasksOf("web") {
			if tk.DesiredState <= types.TaskStateRunning && tk.Spec.Container.Image != "hive-test/web:v2" {
				return false
			}
		}
		return st != nil && st.State == types.UpdateCompleted && st.SpecVersion == svc.SpecVersion && svc.PreviousSpec != nil
	})
	out := h.mustRun("service", "inspect", "--pretty", "web")
	for _, want := range []string{
		"UpdateStatus:\n State:             completed\n Started:           ",
		" Message:           update completed\n",
		"UpdateConfig:\n Parallelism:       1\n Delay:             2s\n On failure:        pause\n Monitoring Period: 5s\n Max failure ratio: 0\n Update order:      stop-first\n",
		"RollbackConfig:\n Parallelism:       1\n",
		" Rollback order:    stop-first\n",
		" Healthcheck:       CMD-SHELL true\n",
		"PreviousSpec:\n Image:             hive-test/web:v1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect --pretty lacks %q:\n%s", want, out)
		}
	}
	js := h.mustRun("service", "inspect", "web")
	for _, want := range []string{`"update_status": {`, `"state": "completed"`, `"previous_spec": {`, `"healthcheck": {`} {
		if !strings.Contains(js, want) {
			t.Errorf("inspect JSON lacks %s", want)
		}
	}
}
