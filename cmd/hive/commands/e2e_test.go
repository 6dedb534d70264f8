package commands

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/apitest"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
)

// fastProgress keeps the progress waits of tests short.
var fastProgress = progressSettings{interval: 5 * time.Millisecond, stable: 30 * time.Millisecond, pendingGrace: 100 * time.Millisecond, maxFailures: 3}

// harness is a backend (the real control logic, on which services
// converge) served by core/api on a unix socket in t.TempDir, and a way to
// run the CLI against it.
type harness struct {
	t    *testing.T
	b    *apitest.Backend
	sock string
	env  []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	b := apitest.New()
	b.Logger = testutil.Logger(t)
	t.Cleanup(b.Close)
	b.InfoValue = api.Info{NodeID: "node1aaaaaaaaaaaaaaaaaaaa", Hostname: "laptop", Role: "manager", Leader: true}
	b.AddNode(&types.Node{ID: "node1aaaaaaaaaaaaaaaaaaaa", Description: types.NodeDescription{Hostname: "laptop", Runtime: types.Plugin{Name: "docker", Version: "20.10.24"}},
		Spec:          types.NodeSpec{Role: types.RoleManager, Availability: types.AvailabilityActive, Labels: map[string]string{"zone": "a"}},
		Status:        types.NodeStatus{State: types.NodeStateReady},
		ManagerStatus: &types.ManagerStatus{Leader: true, Reachability: "reachable"}})
	b.AddNode(&types.Node{ID: "node2bbbbbbbbbbbbbbbbbbbb", Description: types.NodeDescription{Hostname: "worker-1", Runtime: types.Plugin{Name: "docker", Version: "20.10.24"}},
		Spec:   types.NodeSpec{Role: types.RoleWorker, Availability: types.AvailabilityDrain},
		Status: types.NodeStatus{State: types.NodeStateDown, Message: "heartbeat failure: the node stopped answering for a long time now"}})
	b.PluginList = []api.PluginStatus{
		{Name: "runtime-containerd", Kind: "runtime", Version: "0.1.0", Source: "builtin", State: "unhealthy",
			Error: "health check: containerd at /nonexistent.sock is unreachable; check that it runs"},
		{Name: "runtime-docker", Kind: "runtime", Version: "0.1.0", Source: "builtin", State: "running"},
		{Name: "scheduler-x", Kind: "scheduler", Version: "2.0.0", Source: "/opt/hive/plugins/scheduler-x", State: "failed", Error: "exit status 2"},
	}
	b.AutoRun = true

	sock := filepath.Join(t.TempDir(), "hive.sock")
	l, err := api.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	logger := testutil.Logger(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewServer(b, logger).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &harness{t: t, b: b, sock: sock, env: []string{"HIVE_HOST=unix://" + sock, "TOKEN=s3cret"}}
}

// testPinImage is the CLI's registry in these tests: none answers, unless
// a test puts one in its place.
var testPinImage = func(_ context.Context, image string, _ *types.RegistryAuth) (string, error) {
	return "", fmt.Errorf("dial tcp: lookup registry-1.docker.io: no such host (the tests have no registry)")
}

// run runs the CLI with args and returns its stdout, stderr and exit
// status.
func (h *harness) run(args ...string) (string, string, int) {
	h.t.Helper()
	return runCLI(h.t, h.env, args...)
}

func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runCLIInput(t, env, "", args...)
}

// runInput is run with stdin as the CLI's standard input.
func (h *harness) runInput(stdin string, args ...string) (string, string, int) {
	h.t.Helper()
	return runCLIInput(h.t, h.env, stdin, args...)
}

func runCLIInput(t *testing.T, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	c := &cli{opts: RootOptions{Env: env}, now: time.Now, progress: fastProgress, isTerminal: func(io.Writer) bool { return false }, pinImage: testPinImage}
	root := newRoot(c)
	var out, errOut bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Execute(ctx, root)
	t.Logf("hive %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// waitTasks waits until service has n tasks running.
func (h *harness) waitTasks(service string, n int) {
	h.t.Helper()
	testutil.Eventually(h.t, 10*time.Second, fmt.Sprintf("%s runs %d tasks", service, n), func() bool {
		running := 0
		for _, t := range h.b.TasksOf(service) {
			if t.DesiredState == types.TaskStateRunning && t.Status.State == types.TaskStateRunning {
				running++
			}
		}
		return running == n
	})
}

func (h *harness) mustRun(args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("hive %s exited %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func TestCreateDetachedSendsTheSpec(t *testing.T) {
	h := newHarness(t)
	envFile := filepath.Join(t.TempDir(), "web.env")
	if err := os.WriteFile(envFile, []byte("# web settings\nMODE=prod\nTOKEN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := h.mustRun("service", "create", "-d", "--name", "web", "--replicas", "3",
		"-p", "8080:80", "-p", "published=9443,target=443,mode=host",
		"-e", "LEVEL=debug", "--env-file", envFile, "--label", "team=web",
		"--constraint", "node.role==manager", "--mount", "type=volume,source=data,target=/var/lib/data",
		"--limit-cpu", "0.5", "--limit-memory", "512m", "--reserve-cpu", "0.25", "--reserve-memory", "128m",
		"--restart-condition", "on-failure", "--restart-delay", "2s", "--restart-max-attempts", "4", "--restart-window", "1m",
		"--stop-grace-period", "30s", "--stop-signal", "SIGQUIT", "--workdir", "/app", "--user", "1000:1000",
		"--entrypoint", "/bin/sh -c", "nginx:alpine", "nginx -g 'daemon off;'", "--extra")

	svc := h.b.Service("web")
	if svc == nil {
		t.Fatal("the service was not created")
	}
	if strings.TrimSpace(out) != svc.ID {
		t.Errorf("stdout %q, want the service ID %s", out, svc.ID)
	}
	d := func(v time.Duration) *types.Duration { x := types.Duration(v); return &x }
	want := types.ServiceSpec{
		Name: "web", Labels: map[string]string{"team": "web"}, Mode: types.ModeReplicated, Replicas: 3,
		Task: types.TaskSpec{
			Container: types.ContainerSpec{
				Image: "nginx:alpine", Command: []string{"/bin/sh", "-c"}, Args: []string{"nginx -g 'daemon off;'", "--extra"},
				Env: []string{"MODE=prod", "TOKEN=s3cret", "LEVEL=debug"}, Dir: "/app", User: "1000:1000",
				Mounts:     []types.Mount{{Type: types.MountVolume, Source: "data", Target: "/var/lib/data"}},
				StopSignal: "SIGQUIT", StopGracePeriod: d(30 * time.Second),
			},
			Resources: types.Requirements{
				Limits:       types.Resources{NanoCPUs: 500_000_000, MemoryBytes: 512 << 20},
				Reservations: types.Resources{NanoCPUs: 250_000_000, MemoryBytes: 128 << 20},
			},
			RestartPolicy: types.RestartPolicy{Condition: types.RestartOnFailure, Delay: d(2 * time.Second), MaxAttempts: 4, Window: d(time.Minute)},
			Placement:     types.Placement{Constraints: []string{"node.role==manager"}},
		},
		Endpoint: types.EndpointSpec{Mode: types.EndpointVIP, Ports: []types.PortConfig{
			{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
			{Protocol: "tcp", TargetPort: 443, PublishedPort: 9443, PublishMode: "host"},
		}},
		// The policies the CLI leaves out, as the daemon normalizes them.
		Update: types.DefaultUpdateConfig(), Rollback: types.DefaultUpdateConfig(),
	}
	if !reflect.DeepEqual(svc.Spec, want) {
		t.Errorf("spec sent:\n%+v\nwant:\n%+v", svc.Spec, want)
	}
	if h.b.Called("ListTasks") {
		t.Error("--detach still waited for the tasks")
	}
}

func TestCreateDefaults(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "-d", "--name", "plain", "busybox")
	got := h.b.Service("plain").Spec
	want := types.ServiceSpec{Name: "plain", Mode: types.ModeReplicated, Replicas: 1,
		Task:     types.TaskSpec{Container: types.ContainerSpec{Image: "busybox"}, RestartPolicy: types.RestartPolicy{Condition: types.RestartAny}},
		Endpoint: types.EndpointSpec{Mode: types.EndpointVIP},
		Update:   types.DefaultUpdateConfig(), Rollback: types.DefaultUpdateConfig()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spec = %+v, want %+v", got, want)
	}
	h.mustRun("service", "create", "-d", "--name", "agent", "--mode", "global", "busybox", "top")
	if s := h.b.Service("agent").Spec; s.Mode != types.ModeGlobal || s.Replicas != 0 || !reflect.DeepEqual(s.Task.Container.Args, []string{"top"}) {
		t.Errorf("global spec = %+v", s)
	}
}

func TestBadInputSendsNothing(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"service", "create", "--replicas", "-1", "nginx"}, "Error: invalid --replicas -1: must be 0 or more"},
		{[]string{"service", "create", "--replicas", "three", "nginx"}, "invalid --replicas three: want a whole number"},
		{[]string{"service", "create", "--mode", "global", "--replicas", "2", "nginx"}, "invalid --replicas with --mode global"},
		{[]string{"service", "create", "--mode", "daemon", "nginx"}, `invalid --mode "daemon": want replicated or global`},
		{[]string{"service", "create", "-p", "8080:80:90", "nginx"}, `invalid --publish "8080:80:90"`},
		{[]string{"service", "create", "-p", "8080:80", "-p", "8080:81", "nginx"}, "port 8080/tcp is already published"},
		{[]string{"service", "create", "--mount", "type=volume,soure=data,destination=/var/lib/data", "busybox"}, `unknown field "soure" (did you mean "source"?)`},
		{[]string{"service", "create", "--mount", "target=/d", "--mount", "target=/d/", "busybox"}, "/d is already a mount target"},
		{[]string{"service", "create", "--constraint", "node.role=manager", "nginx"}, `invalid --constraint "node.role=manager": want KEY==VALUE or KEY!=VALUE`},
		{[]string{"service", "create", "--constraint", "node.colour==red", "nginx"}, `unknown key "node.colour"`},
		{[]string{"service", "create", "--limit-memory", "lots", "nginx"}, `invalid --limit-memory "lots"`},
		{[]string{"service", "create", "--limit-cpu", "1", "--reserve-cpu", "2", "nginx"}, "invalid --reserve-cpu 2: more than --limit-cpu 1"},
		{[]string{"service", "create", "--restart-condition", "always", "nginx"}, `invalid --restart-condition "always": want none, on-failure or any`},
		{[]string{"service", "create", "--restart-delay", "5", "nginx"}, `invalid --restart-delay "5": want a duration such as 10s`},
		{[]string{"service", "create", "--stop-signal", "SIGNOPE", "nginx"}, `invalid --stop-signal "SIGNOPE"`},
		{[]string{"service", "create", "--workdir", "app", "nginx"}, `invalid --workdir "app": it must be an absolute path`},
		{[]string{"service", "create", "--name", "my web", "nginx"}, `invalid --name "my web"`},
		{[]string{"service", "create", "--env-file", "/nonexistent/x.env", "nginx"}, "read --env-file: open /nonexistent/x.env"},
		{[]string{"service", "create", "Nginx"}, `invalid image reference "Nginx": invalid reference format: repository name (library/Nginx) must be lowercase`},
		{[]string{"service", "create", "--entrypoint", "", "nginx"}, "invalid --entrypoint: it is empty"},
		{[]string{"service", "create"}, `"hive service create" requires at least an IMAGE`},
		{[]string{"service", "create", "--nope", "nginx"}, "unknown flag: --nope"},
		{[]string{"service", "scale", "web"}, `invalid scale argument "web": want SERVICE=REPLICAS`},
		{[]string{"service", "scale", "web=-2"}, "invalid replica count for web: -2: must be 0 or more"},
		{[]string{"service", "ps", "--filter", "state=running", "web"}, `invalid --filter "state=running"`},
		{[]string{"service", "ls", "--format", "yaml"}, `invalid --format "yaml": want table or json`},
		{[]string{"service", "logs", "--tail", "some", "web"}, `invalid --tail "some"`},
		{[]string{"service", "logs", "--since", "last week", "web"}, `invalid --since "last week"`},
		{[]string{"service", "logs", "a", "b"}, `"hive service logs" requires exactly one SERVICE, got 2 argument(s)`},
		{[]string{"service", "frobnicate"}, `unknown command "frobnicate" for "hive service"`},
		{[]string{"node", "ls", "extra"}, `"hive node ls" accepts no arguments`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(h.b.Calls())
			out, errOut, code := h.run(tt.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if !strings.Contains(errOut, tt.want) || !strings.HasPrefix(errOut, "Error: ") {
				t.Errorf("stderr %q does not contain %q", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if calls := h.b.Calls()[before:]; len(calls) > 0 {
				t.Errorf("bad input reached the backend: %v", calls)
			}
		})
	}
}

func TestUsageErrorsPointAtHelp(t *testing.T) {
	h := newHarness(t)
	_, errOut, code := h.run("service", "ls", "--bogus")
	if code != 1 || errOut != "Error: unknown flag: --bogus\nSee 'hive service ls --help'.\n" {
		t.Errorf("got %d %q", code, errOut)
	}
	_, errOut, code = h.run("servce", "ls")
	if code != 1 || !strings.HasPrefix(errOut, "Error: unknown command \"servce\" for \"hive\"") ||
		!strings.Contains(errOut, "\tservice\n") || !strings.HasSuffix(errOut, "See 'hive --help'.\n") {
		t.Errorf("misspelt command: %d %q", code, errOut)
	}
	_, errOut, _ = h.run("service", "create", "--limit-cpu", "x", "nginx")
	if strings.Contains(errOut, "--help") {
		t.Errorf("a bad value is not a usage error, yet stderr says %q", errOut)
	}
}

func TestCreateShowsProgressUntilConverged(t *testing.T) {
	h := newHarness(t)
	out := h.mustRun("service", "create", "--name", "web", "--replicas", "3", "nginx:alpine")
	svc := h.b.Service("web")
	// The slots show the states they pass through (assigned, ...); each
	// ends running.
	bar := "[==================================================>]"
	if !strings.HasPrefix(out, svc.ID+"\n") ||
		!strings.HasSuffix(out, "running   "+bar+"\noverall progress: 3 out of 3 tasks\nverify: Service converged\n") {
		t.Errorf("stdout:\n%s\nwant the service ID, then the progress ending converged", out)
	}
	for slot := 1; slot <= 3; slot++ {
		if want := fmt.Sprintf("\n%d/3: running   %s\n", slot, bar); !strings.Contains(out, want) {
			t.Errorf("stdout:\n%s\nlacks %q", out, want)
		}
	}

	out = h.mustRun("service", "create", "-q", "--name", "quiet", "nginx:alpine")
	if out != h.b.Service("quiet").ID+"\n" {
		t.Errorf("-q printed %q, want only the ID", out)
	}
}

func TestCreateGivesUpOnRejectedTask(t *testing.T) {
	h := newHarness(t)
	h.b.Images = []string{} // the nodes can pull no image
	out, errOut, code := h.run("service", "create", "--name", "web", "nginx:nope")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.HasPrefix(out, h.b.Service("web").ID+"\n") {
		t.Errorf("stdout %q does not start with the service ID", out)
	}
	want := "Error: service web was created but did not converge: web.1: rejected: image not found: nginx:nope\nSee what happened with 'hive service ps web'\n"
	if errOut != want {
		t.Errorf("stderr %q\nwant   %q", errOut, want)
	}
}

func TestServiceLs(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "-d", "--name", "web", "--replicas", "2", "-p", "8080:80", "-p", "8081:81", "nginx:alpine@sha256:"+strings.Repeat("a", 64))
	h.mustRun("service", "create", "-d", "--name", "api", "-p", "published=9000,target=9000,mode=host", "api:1")
	h.waitTasks("web", 2)
	h.waitTasks("api", 1)
	web, api := h.b.Service("web"), h.b.Service("api")

	out := h.mustRun("service", "ls")
	want := "ID             NAME   MODE         REPLICAS   IMAGE          PORTS\n" +
		fmt.Sprintf("%s   api    replicated   1/1        api:1          9000->9000/tcp (host)\n", api.ID[:12]) +
		fmt.Sprintf("%s   web    replicated   2/2        nginx:alpine   *:8080-8081->80-81/tcp\n", web.ID[:12])
	if out != want {
		t.Errorf("service ls:\n%s\nwant:\n%s", out, want)
	}
	if out := h.mustRun("service", "ls", "-q"); out != api.ID[:12]+"\n"+web.ID[:12]+"\n" {
		t.Errorf("service ls -q = %q", out)
	}
	out = h.mustRun("service", "ls", "--format", "json")
	if !strings.Contains(out, `"running_tasks": 2`) || !strings.Contains(out, `"name": "web"`) || !strings.HasPrefix(out, "[") {
		t.Errorf("service ls --format json = %s", out)
	}
}

func TestServicePsScaleRm(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "-d", "--name", "web", "--replicas", "2", "nginx:alpine")
	h.waitTasks("web", 2)
	out := h.mustRun("service", "ps", "web")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[1], "web.1") ||
		!strings.Contains(lines[1], "laptop") || !strings.Contains(lines[1], "Running ") || !strings.Contains(lines[2], "web.2") {
		t.Errorf("service ps:\n%s", out)
	}

	out = h.mustRun("service", "scale", "web=4")
	if !strings.HasPrefix(out, "web scaled to 4\n") || !strings.HasSuffix(out, "overall progress: 4 out of 4 tasks\nverify: Service converged\n") {
		t.Errorf("service scale:\n%s", out)
	}
	if n := h.b.Service("web").Spec.Replicas; n != 4 {
		t.Errorf("replicas = %d, want 4", n)
	}
	if out := h.mustRun("service", "ps", "-q", "--filter", "desired-state=running", "web"); len(strings.Fields(out)) != 4 {
		t.Errorf("service ps -q after scale = %q", out)
	}

	h.mustRun("service", "create", "-d", "--name", "agent", "--mode", "global", "busybox")
	out, errOut, code := h.run("service", "scale", "-d", "agent=3", "web=1", "nope=2")
	if code != 1 || out != "web scaled to 1\n" {
		t.Errorf("scale with errors: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"Error: agent: scale can only be used with replicated mode\n", "Error: service \"nope\" not found\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}

	out, errOut, code = h.run("service", "rm", "web", "nope", "agent")
	if code != 1 || out != "web\nagent\n" || errOut != "Error: service \"nope\" not found\n" {
		t.Errorf("rm: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if len(h.b.Services()) != 0 {
		t.Errorf("services left: %v", h.b.Services())
	}
}

func TestServiceRmWaitReturnsOnceTheTasksStopped(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "--name", "web", "--replicas", "2", "--constraint", "node.hostname==laptop", "nginx")
	svc := h.b.Service("web")
	if out := h.mustRun("service", "rm", "--wait", "web"); out != "web\n" {
		t.Errorf("service rm --wait printed %q", out)
	}
	tasks, err := h.b.ListTasks(context.Background(), api.TaskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if task.ServiceID == svc.ID && !task.Status.State.Terminal() {
			t.Errorf("task %s is %s after service rm --wait", task.Name(), task.Status.State)
		}
	}
}

func TestServiceRmWaitTimesOutOnATaskThatDoesNotStop(t *testing.T) {
	h := newHarness(t)
	h.b.AddService(&types.Service{ID: "svcstuck", Spec: types.ServiceSpec{Name: "stuck"}})
	// Its task runs on worker-1, which is down: nothing will stop it.
	h.b.AddTask(&types.Task{ID: "taskstuck", ServiceID: "svcstuck", Slot: 1, NodeID: "node2bbbbbbbbbbbbbbbbbbbb",
		DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateRunning}})
	out, errOut, code := h.run("service", "rm", "--wait", "--timeout", "300ms", "stuck")
	want := "Error: 1 task(s) of the removed services are still stopping after 300ms: see their nodes with 'hive node ls'\n"
	if code != 1 || out != "stuck\n" || errOut != want {
		t.Errorf("service rm --wait of a stuck service: exit %d, stdout %q, stderr %q, want stderr %q", code, out, errOut, want)
	}
	if _, errOut, code := h.run("service", "rm", "--wait", "--timeout", "0s", "web"); code != 1 || errOut != "Error: --timeout must be positive, got 0s\n" {
		t.Errorf("--timeout 0s: exit %d, stderr %q", code, errOut)
	}
}

func TestScaleRetriesOnceOnConflict(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "-d", "--name", "web", "nginx")
	// Another writer bumps the version between our read and our update,
	// once: the first UpdateService fails with a conflict.
	h.b.AddService(func() *types.Service { s := h.b.Service("web"); s.Version += 100; return s }())
	out := h.mustRun("service", "scale", "-d", "web=2")
	if out != "web scaled to 2\n" || h.b.Service("web").Spec.Replicas != 2 {
		t.Errorf("scale = %q, replicas %d", out, h.b.Service("web").Spec.Replicas)
	}
}

func TestServiceLogs(t *testing.T) {
	h := newHarness(t)
	h.mustRun("service", "create", "-d", "--name", "web", "--replicas", "2", "nginx")
	h.waitTasks("web", 2)
	svc := h.b.Service("web")
	tasks, _ := h.b.ListTasks(context.Background(), api.TaskFilter{Service: "web"})
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	h.b.Logs[svc.ID] = []api.LogLine{
		{TaskID: tasks[0].ID, TaskName: "web.1", NodeHostname: "laptop", Time: at, Stream: "stdout", Line: "hello"},
		{TaskID: tasks[1].ID, TaskName: "web.2", NodeHostname: "laptop", Time: at.Add(time.Second), Stream: "stderr", Line: "oops"},
		{TaskID: tasks[0].ID, TaskName: "web.1", NodeHostname: "laptop", Time: at.Add(2 * time.Second), Stream: "stdout", Line: "bye"},
	}
	p1 := "web.1." + tasks[0].ID[:12] + "@laptop    | "
	p2 := "web.2." + tasks[1].ID[:12] + "@laptop    | "

	out, errOut, code := h.run("service", "logs", "web")
	if code != 0 || out != p1+"hello\n"+p1+"bye\n" || errOut != p2+"oops\n" {
		t.Errorf("logs: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out = h.mustRun("service", "logs", "--tail", "1", "-t", "--no-task-ids", "web")
	if out != "web.1@laptop    | 2024-05-01T10:00:02Z bye\n" {
		t.Errorf("logs --tail 1 -t --no-task-ids = %q", out)
	}
	_, errOut, code = h.run("service", "logs", "nope")
	if code != 1 || errOut != "Error: service \"nope\" not found\n" {
		t.Errorf("logs of a missing service: %d %q", code, errOut)
	}
}

func TestReadCommands(t *testing.T) {
	h := newHarness(t)
	out := h.mustRun("node", "ls")
	want := "ID                            HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS   RUNTIME           MESSAGE\n" +
		"node1aaaaaaaaaaaaaaaaaaaa *   laptop     Ready    Active         Leader           docker 20.10.24\n" +
		"node2bbbbbbbbbbbbbbbbbbbb     worker-1   Down     Drain                           docker 20.10.24   heartbeat failure: the node stopped answering for a long ti…\n"
	if out != want {
		t.Errorf("node ls:\n%s\nwant:\n%s", out, want)
	}
	if out := h.mustRun("node", "ls", "--no-trunc"); !strings.Contains(out, "   heartbeat failure: the node stopped answering for a long time now\n") {
		t.Errorf("node ls --no-trunc does not show the whole message:\n%s", out)
	}
	if out := h.mustRun("node", "ls", "-q"); out != "node1aaaaaaaaaaaaaaaaaaaa\nnode2bbbbbbbbbbbbbbbbbbbb\n" {
		t.Errorf("node ls -q = %q", out)
	}
	if out := h.mustRun("node", "inspect", "self"); !strings.HasPrefix(out, "[\n    {\n        \"id\": \"node1aaaaaaaaaaaaaaaaaaaa\"") {
		t.Errorf("node inspect self = %s", out)
	}
	out = h.mustRun("plugin", "ls")
	want = "NAME                 KIND        VERSION   SOURCE                          STATE       ERROR\n" +
		"runtime-containerd   runtime     0.1.0     builtin                         unhealthy   health check: containerd at /nonexistent.sock is unreachabl…\n" +
		"runtime-docker       runtime     0.1.0     builtin                         running\n" +
		"scheduler-x          scheduler   2.0.0     /opt/hive/plugins/scheduler-x   failed      exit status 2\n"
	if out != want {
		t.Errorf("plugin ls:\n%s\nwant:\n%s", out, want)
	}
	if out := h.mustRun("plugin", "ls", "--no-trunc"); !strings.Contains(out, " unhealthy   health check: containerd at /nonexistent.sock is unreachable; check that it runs\n") {
		t.Errorf("plugin ls --no-trunc does not show the whole error:\n%s", out)
	}
	if out := h.mustRun("info"); !strings.Contains(out, "Node ID:     node1aaaaaaaaaaaaaaaaaaaa\n") || !strings.Contains(out, "Leader:      yes\n") {
		t.Errorf("info:\n%s", out)
	}
	if out := h.mustRun("info", "--format", "json"); !strings.Contains(out, `"hostname": "laptop"`) {
		t.Errorf("info --format json:\n%s", out)
	}
	h.mustRun("service", "create", "-d", "--name", "web", "-p", "8080:80", "--limit-memory", "512m", "nginx")
	if out := h.mustRun("service", "inspect", "web"); !strings.HasPrefix(out, "[\n    {\n") || !strings.Contains(out, `"name": "web"`) {
		t.Errorf("service inspect = %s", out)
	}
	out = h.mustRun("service", "inspect", "--pretty", "web")
	for _, want := range []string{"Name:               web\n", "Service Mode:       Replicated\n", " Replicas:          1\n", "  Memory:           512MiB\n", " PublishedPort = 8080\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect --pretty lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code := h.run("service", "inspect", "web", "nope")
	if code != 1 || !strings.Contains(out, `"name": "web"`) || errOut != "Error: service \"nope\" not found\n" {
		t.Errorf("inspect with a missing service: %d %q %q", code, out, errOut)
	}
}

func TestUnreachableHost(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "x", "hive.sock")
	for _, env := range [][]string{{"HIVE_HOST=unix://" + sock}, {}} {
		args := []string{"service", "ls"}
		if len(env) == 0 {
			args = []string{"-H", "unix://" + sock, "service", "ls"}
		}
		out, errOut, code := runCLI(t, env, args...)
		want := fmt.Sprintf("Error: cannot reach hive at unix://%s: dial unix %s: connect: no such file or directory — is hive running? start it with 'hive up', or point -H/HIVE_HOST at it\n", sock, sock)
		if code != 1 || out != "" || errOut != want {
			t.Errorf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errOut, want)
		}
	}
	_, errOut, code := runCLI(t, nil, "-H", "http://localhost", "info")
	if code != 1 || !strings.Contains(errOut, `invalid hive host "http://localhost"`) {
		t.Errorf("bad -H: %d %q", code, errOut)
	}
}

func TestHostFromConfigFile(t *testing.T) {
	h := newHarness(t)
	cfg := filepath.Join(t.TempDir(), "hive.yaml")
	if err := os.WriteFile(cfg, []byte("host: unix://"+h.sock+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, []string{"HOME=" + t.TempDir()}, "--config", cfg, "plugin", "ls")
	if code != 0 || !strings.Contains(out, "runtime-docker") {
		t.Errorf("host from --config: exit %d, %q %q", code, out, errOut)
	}
}

func TestNetworkCommands(t *testing.T) {
	h := newHarness(t)
	out := h.mustRun("network", "create", "--subnet", "10.20.0.0/24", "--gateway", "10.20.0.254", "--ip-range", "10.20.0.0/25",
		"--attachable", "--label", "team=web", "--opt", "mtu=1400", "front")
	front, err := h.b.GetNetwork(context.Background(), "front")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != front.ID {
		t.Errorf("create printed %q, want the network ID %s", out, front.ID)
	}
	want := types.NetworkSpec{Name: "front", Driver: "overlay", Subnet: "10.20.0.0/24", Gateway: "10.20.0.254", IPRange: "10.20.0.0/25",
		Attachable: true, Labels: map[string]string{"team": "web"}, Options: map[string]string{"mtu": "1400"}}
	if !reflect.DeepEqual(front.Spec, want) {
		t.Errorf("stored spec %+v, want %+v", front.Spec, want)
	}
	h.mustRun("network", "create", "--internal", "back")
	back, err := h.b.GetNetwork(context.Background(), "back")
	if err != nil {
		t.Fatal(err)
	}

	out = h.mustRun("network", "ls")
	wantLs := fmt.Sprintf("NETWORK ID     NAME    DRIVER    SCOPE   SUBNET\n%-12s   back    overlay   swarm   %s\n%-12s   front   overlay   swarm   10.20.0.0/24\n",
		truncID(back.ID), back.Subnet, truncID(front.ID))
	if out != wantLs {
		t.Errorf("network ls:\n%s\nwant:\n%s", out, wantLs)
	}
	if out := h.mustRun("network", "ls", "-q"); out != truncID(back.ID)+"\n"+truncID(front.ID)+"\n" {
		t.Errorf("network ls -q = %q", out)
	}
	if out := h.mustRun("network", "ls", "--format", "json"); !strings.Contains(out, `"subnet": "10.20.0.0/24"`) || !strings.Contains(out, `"vni": `) {
		t.Errorf("network ls --format json:\n%s", out)
	}
	if out := h.mustRun("network", "inspect", "front"); !strings.HasPrefix(out, "[\n    {\n        \"id\": \""+front.ID) || !strings.Contains(out, `"ip_range": "10.20.0.0/25"`) {
		t.Errorf("network inspect front:\n%s", out)
	}

	h.mustRun("service", "create", "-d", "--name", "web", "--network", "name=front,alias=www", "--endpoint-mode", "vip", "nginx:alpine")
	svc := h.b.Service("web")
	if svc == nil || len(svc.Spec.Networks) != 1 || svc.Spec.Networks[0].Target != front.ID || len(svc.Endpoint.VirtualIPs) != 1 {
		t.Fatalf("service web: %+v", svc)
	}
	vip := svc.Endpoint.VirtualIPs[0].Addr
	out = h.mustRun("service", "inspect", "web")
	for _, want := range []string{`"virtual_ips": [`, `"network_id": "` + front.ID + `"`, `"addr": "` + vip.String() + `"`, `"mode": "vip"`, `"aliases": [`} {
		if !strings.Contains(out, want) {
			t.Errorf("service inspect lacks %s:\n%s", want, out)
		}
	}
	if !front.IPRange.Contains(vip.Addr()) {
		t.Errorf("virtual IP %s is outside front's ip range %s", vip, front.IPRange)
	}

	out = h.mustRun("network", "inspect", "--pretty", "front")
	for _, want := range []string{"Name:            front\n", "Labels:\n - team=web\n", "Driver:          overlay\n", "Scope:           swarm\n",
		"Subnet:          10.20.0.0/24\n", "Gateway:         10.20.0.254\n", "IP range:        10.20.0.0/25\n", fmt.Sprintf("VXLAN ID:        %d\n", front.VNI),
		"Attachable:      true\n", "Internal:        false\n", "Options:\n - mtu=1400\n", "In use by:       web\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("network inspect --pretty lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Value version") {
		t.Errorf("network inspect --pretty shows a value version:\n%s", out)
	}

	_, errOut, code := h.run("network", "rm", "front")
	if code != 1 || !strings.Contains(errOut, "web") || !strings.Contains(errOut, "--network-rm") {
		t.Errorf("rm of a network in use: exit %d, %q: want a refusal naming web", code, errOut)
	}
	if _, err := h.b.GetNetwork(context.Background(), "front"); err != nil {
		t.Errorf("front was removed: %v", err)
	}

	_, errOut, code = h.runInput("n\n", "network", "prune")
	if code != 1 || !strings.Contains(errOut, "Are you sure you want to continue? [y/N]") || !strings.Contains(errOut, "network prune cancelled") {
		t.Errorf("prune answered no: exit %d, %q", code, errOut)
	}
	if _, err := h.b.GetNetwork(context.Background(), "back"); err != nil {
		t.Errorf("a prune answered no removed back: %v", err)
	}
	if out, _, code := h.runInput("y\n", "network", "prune"); code != 0 || out != "Deleted Networks:\nback\n" {
		t.Errorf("prune answered yes: exit %d, %q; want back removed, front kept", code, out)
	}
	if out := h.mustRun("network", "prune", "-f"); out != "" {
		t.Errorf("a prune with nothing to remove printed %q", out)
	}

	h.mustRun("service", "update", "-d", "--network-rm", front.ID, "web")
	if svc := h.b.Service("web"); len(svc.Spec.Networks) != 0 || len(svc.Endpoint.VirtualIPs) != 0 {
		t.Errorf("after --network-rm: networks %+v, virtual IPs %+v", svc.Spec.Networks, svc.Endpoint.VirtualIPs)
	}
	// The managers refuse the removal while web's old tasks still hold
	// addresses of front; it succeeds once they stopped.
	testutil.Eventually(t, 10*time.Second, "network rm front succeeds", func() bool {
		out, _, code := h.run("network", "rm", "front")
		return code == 0 && out == "front\n"
	})
	if out := h.mustRun("network", "ls", "-q"); out != "" {
		t.Errorf("networks left: %q", out)
	}
}

func TestNetworkBadInputCreatesNothing(t *testing.T) {
	h := newHarness(t)
	h.mustRun("network", "create", "--subnet", "10.40.0.0/16", "front")
	for _, tt := range []struct {
		args  []string
		err   string
		local bool // refused by the CLI before it sends anything
	}{
		{[]string{"network", "create", "--subnet", "10.40.3.0/24", "n"}, "subnet 10.40.3.0/24 overlaps subnet 10.40.0.0/16 of network front: choose a subnet outside it", false},
		{[]string{"network", "create", "--subnet", "10.50.0.0/33", "n"}, `invalid subnet "10.50.0.0/33": give a CIDR such as 10.20.0.0/16`, true},
		{[]string{"network", "create", "--subnet", "10.50.0.9/24", "n"}, "invalid subnet 10.50.0.9/24: it has host bits set: use 10.50.0.0/24", true},
		{[]string{"network", "create", "--driver", "bridge", "n"}, `unknown network driver "bridge": use overlay`, true},
		{[]string{"network", "create", "--gateway", "10.50.0.1", "n"}, "a gateway needs a subnet: give --subnet too", true},
		{[]string{"network", "create", "--opt", "mtu", "n"}, `invalid --opt "mtu": use KEY=VALUE`, true},
		{[]string{"network", "create", "front"}, `network name "front" is already in use`, false},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(h.b.Calls())
			out, errOut, code := h.run(tt.args...)
			if code != 1 || out != "" || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want an error containing %q", code, out, errOut, tt.err)
			}
			if sent := slices.Contains(h.b.Calls()[before:], "CreateNetwork"); sent == tt.local {
				t.Errorf("the CLI sent the spec: %v, want %v", sent, !tt.local)
			}
			if out := h.mustRun("network", "ls", "-q"); strings.Count(out, "\n") != 1 {
				t.Errorf("networks after the refusal: %q, want front alone", out)
			}
		})
	}
	_, errOut, code := h.run("network", "inspect", "front", "nope")
	if code != 1 || !strings.Contains(errOut, `network "nope" not found`) {
		t.Errorf("inspect of a missing network: exit %d, %q", code, errOut)
	}
}

func TestServiceOnUnknownNetworkCreatesNothing(t *testing.T) {
	h := newHarness(t)
	out, errOut, code := h.run("service", "create", "-d", "--name", "api", "--network", "nowhere", "nginx:alpine")
	if code != 1 || out != "" || !strings.Contains(errOut, `network "nowhere" not found: create it first, or leave it out`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if h.b.Service("api") != nil {
		t.Error("service api was created")
	}
	_, errOut, code = h.run("service", "create", "-d", "--name", "api", "--endpoint-mode", "rr", "nginx:alpine")
	if code != 1 || !strings.Contains(errOut, `invalid --endpoint-mode "rr": want vip or dnsrr`) || h.b.Service("api") != nil {
		t.Errorf("bad --endpoint-mode: exit %d, %q", code, errOut)
	}
}

func TestServiceNetworksByName(t *testing.T) {
	h := newHarness(t)
	h.mustRun("network", "create", "--subnet", "10.20.0.0/24", "front")
	h.mustRun("network", "create", "--subnet", "10.30.0.0/24", "back")
	h.mustRun("service", "create", "-d", "--name", "web", "--network", "name=front,alias=www", "--network", "back", "nginx:alpine")
	svc := h.b.Service("web")
	out := h.mustRun("service", "inspect", "--pretty", "web")
	want := fmt.Sprintf("Endpoint Mode:      vip\nNetworks:           front (aliases: www), back\nVirtual IPs:\n front:             %s\n back:              %s\n",
		svc.Endpoint.VirtualIPs[0].Addr, svc.Endpoint.VirtualIPs[1].Addr)
	if !strings.Contains(out, want) {
		t.Errorf("service inspect --pretty lacks\n%s\nin:\n%s", want, out)
	}
	// update resolves the names: --network-add replaces the attachment to
	// the same network (new aliases), --network-rm takes a name.
	h.mustRun("service", "update", "-d", "--network-rm", "back", "--network-add", "name=front,alias=api", "web")
	svc = h.b.Service("web")
	front, _ := h.b.GetNetwork(context.Background(), "front")
	if len(svc.Spec.Networks) != 1 || svc.Spec.Networks[0].Target != front.ID || !slices.Equal(svc.Spec.Networks[0].Aliases, []string{"api"}) {
		t.Errorf("after the update the networks are %+v", svc.Spec.Networks)
	}
	_, errOut, code := h.run("service", "update", "-d", "--network-rm", "nowhere", "web")
	if code != 1 || !strings.Contains(errOut, `network "nowhere" not found`) {
		t.Errorf("--network-rm of an unknown network: exit %d, %q", code, errOut)
	}
	_, errOut, code = h.run("service", "update", "-d", "--network-rm", "back", "web")
	if code != 1 || !strings.Contains(errOut, "invalid --network-rm back: the service is not attached to that network") {
		t.Errorf("--network-rm of a network the service is not on: exit %d, %q", code, errOut)
	}
}
