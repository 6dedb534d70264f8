package agent

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/testutil"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// fakeManager is a session.Manager whose assignments the test sends and
// whose status reports it records.
type fakeManager struct {
	sets chan *session.Assignment

	mu     sync.Mutex
	status map[string]types.TaskStatus
}

func newFakeManager() *fakeManager {
	return &fakeManager{sets: make(chan *session.Assignment, 16), status: map[string]types.TaskStatus{}}
}

func (m *fakeManager) Register(context.Context, session.Registration) error { return nil }

func (m *fakeManager) Assignments(context.Context, string) (<-chan *session.Assignment, error) {
	return m.sets, nil
}

func (m *fakeManager) UpdateTaskStatus(_ context.Context, _ string, updates []session.StatusUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range updates {
		m.status[u.TaskID] = u.Status
	}
	return nil
}

func (m *fakeManager) Heartbeat(context.Context, string) (time.Duration, error) {
	return time.Hour, nil
}

func (m *fakeManager) statusOf(id string) types.TaskStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status[id]
}

// recordingRuntime is the fake runtime, keeping the specs it was asked
// to create.
type recordingRuntime struct {
	*runtime.Fake
	mu    sync.Mutex
	specs map[string]*runtime.ContainerSpec
}

func (r *recordingRuntime) Create(ctx context.Context, spec *runtime.ContainerSpec) (string, error) {
	r.mu.Lock()
	r.specs[spec.Labels[LabelTask]] = spec
	r.mu.Unlock()
	return r.Fake.Create(ctx, spec)
}

func (r *recordingRuntime) spec(taskID string) *runtime.ContainerSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.specs[taskID]
}

type testAgent struct {
	mgr     *fakeManager
	rt      *recordingRuntime
	secrets string
	cancel  context.CancelFunc
	done    chan struct{}
}

// startAgent runs an agent of node n1 over fake (nil: an empty one).
func startAgent(t *testing.T, secretsDir string, fake *runtime.Fake) *testAgent {
	t.Helper()
	if fake == nil {
		fake = runtime.NewFake()
	}
	fake.AllowAnyImage(true)
	ta := &testAgent{mgr: newFakeManager(), rt: &recordingRuntime{Fake: fake, specs: map[string]*runtime.ContainerSpec{}}, secrets: secretsDir, done: make(chan struct{})}
	a := New(Config{
		NodeID: "n1", Runtime: ta.rt, Manager: ta.mgr, SecretsDir: secretsDir,
		Describe: func(context.Context) types.NodeDescription { return types.NodeDescription{} },
		Clock:    clock.Real{}, Logger: slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithCancel(context.Background())
	ta.cancel = cancel
	go func() { defer close(ta.done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ta.done })
	return ta
}

func secretTask(id string) *types.Task {
	t := &types.Task{ID: id, ServiceID: "s1", ServiceName: "web", Slot: 1, NodeID: "n1",
		DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateAssigned}}
	t.Spec.Container.Image = "web"
	t.Spec.Container.Secrets = []types.SecretReference{
		{SecretID: "sec1", SecretName: "db_password", File: types.FileTarget{Name: "db", UID: "1000", GID: "1001", Mode: 0o400}},
		{SecretID: "sec2", SecretName: "api_key"}, // the defaults
	}
	t.Spec.Container.Configs = []types.ConfigReference{{ConfigID: "cfg1", ConfigName: "app.conf", File: types.FileTarget{Name: "/etc/app.conf"}}}
	return t
}

func allValues() (map[string]session.SecretData, map[string]session.ConfigData) {
	return map[string]session.SecretData{
			"sec1": {ValueVersion: 1, Value: types.NewSecretValue([]byte("s3cret"))},
			"sec2": {ValueVersion: 4, Value: types.NewSecretValue([]byte("k3y"))},
		}, map[string]session.ConfigData{
			"cfg1": {ValueVersion: 2, Data: []byte("listen=80\n")},
		}
}

func isTmpfs(t *testing.T, p string) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatalf("statfs %s: %v", p, err)
	}
	return st.Type == unix.TMPFS_MAGIC
}

func checkFile(t *testing.T, p, content string, uid, gid uint32, mode fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != content {
		t.Errorf("%s holds %q, want %q", p, b, content)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != mode {
		t.Errorf("%s is %d:%d %v, want %d:%d %v", p, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, mode)
	}
	if !isTmpfs(t, p) {
		t.Errorf("%s is not on a tmpfs", p)
	}
}

// TestSecretsAreWrittenToATmpfsThenRemoved proves the life of a task's
// values on a node: the task waits in preparing, naming the secret, until
// the value arrives; then each value is a file on a tmpfs of the task's
// own with the owner and mode asked, shown to the container read-only (the
// secrets at /run/secrets, each config at its target); and once the task
// is gone the tmpfs is unmounted and its directory removed.
func TestSecretsAreWrittenToATmpfsThenRemoved(t *testing.T) {
	testutil.RequireRoot(t, "mounting a tmpfs")
	dir := filepath.Join(t.TempDir(), "secrets")
	ta := startAgent(t, dir, nil)
	task := secretTask("t1")
	secrets, configs := allValues()
	delete(secrets, "sec2")
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{task}, Secrets: secrets, Configs: configs}
	testutil.Eventually(t, 10*time.Second, "the task waits for its secret", func() bool {
		st := ta.mgr.statusOf("t1")
		return st.State == types.TaskStatePreparing && st.Message == "waiting for secret api_key" && st.Err == ""
	})
	if ta.rt.spec("t1") != nil {
		t.Fatal("the container was created before its secrets arrived")
	}
	// The managers say why they cannot send it: the task shows the reason.
	reason := "secret driver vault: vault at http://127.0.0.1:1 is unreachable"
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{task}, Secrets: secrets, Configs: configs,
		SecretErrors: map[string]string{"sec2": reason}}
	testutil.Eventually(t, 10*time.Second, "the task shows why it waits", func() bool {
		st := ta.mgr.statusOf("t1")
		return st.State == types.TaskStatePreparing && st.Message == "waiting for secret api_key" && st.Err == reason
	})

	secrets, configs = allValues()
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{task}, Secrets: secrets, Configs: configs}
	testutil.Eventually(t, 10*time.Second, "the task runs", func() bool { return ta.mgr.statusOf("t1").State == types.TaskStateRunning })
	taskDir := filepath.Join(dir, "t1")
	checkFile(t, filepath.Join(taskDir, "secrets", "db"), "s3cret", 1000, 1001, 0o400)
	checkFile(t, filepath.Join(taskDir, "secrets", "api_key"), "k3y", 0, 0, 0o444)
	spec := ta.rt.spec("t1")
	var got []string
	for _, m := range spec.Mounts {
		if m.Type != runtime.MountBind || !m.ReadOnly || !strings.HasPrefix(m.Source, taskDir+"/") {
			t.Errorf("mount %+v: want a read-only bind from %s", m, taskDir)
		}
		got = append(got, m.Target)
		if m.Target == "/etc/app.conf" {
			checkFile(t, m.Source, "listen=80\n", 0, 0, 0o444)
		}
	}
	if strings.Join(got, " ") != "/run/secrets /etc/app.conf" {
		t.Errorf("mount targets %v, want /run/secrets and /etc/app.conf", got)
	}

	// The task leaves the node: its values go with it.
	ta.mgr.sets <- &session.Assignment{}
	testutil.Eventually(t, 10*time.Second, "the task's tmpfs is removed", func() bool {
		_, err := os.Stat(taskDir)
		return os.IsNotExist(err)
	})
	if isTmpfs(t, dir) {
		t.Error("the secrets directory itself is still a tmpfs")
	}
}

// TestAStoppedTaskReleasesItsSecrets proves a task that ends (told to
// shut down) gives up its tmpfs though it stays assigned.
func TestAStoppedTaskReleasesItsSecrets(t *testing.T) {
	testutil.RequireRoot(t, "mounting a tmpfs")
	dir := filepath.Join(t.TempDir(), "secrets")
	ta := startAgent(t, dir, nil)
	task := secretTask("t1")
	secrets, configs := allValues()
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{task}, Secrets: secrets, Configs: configs}
	testutil.Eventually(t, 10*time.Second, "the task runs", func() bool { return ta.mgr.statusOf("t1").State == types.TaskStateRunning })
	stopped := task.Copy()
	stopped.DesiredState = types.TaskStateShutdown
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{stopped}}
	testutil.Eventually(t, 10*time.Second, "the task is shut down", func() bool { return ta.mgr.statusOf("t1").State == types.TaskStateShutdown })
	testutil.Eventually(t, 10*time.Second, "the task's tmpfs is removed", func() bool {
		_, err := os.Stat(filepath.Join(dir, "t1"))
		return os.IsNotExist(err)
	})
}

// TestTheAgentSweepsTheSecretsOfTasksThatAreGone proves that at start the
// agent unmounts what tasks that ended while it was down left, and keeps
// those of tasks it still runs.
func TestTheAgentSweepsTheSecretsOfTasksThatAreGone(t *testing.T) {
	testutil.RequireRoot(t, "mounting a tmpfs")
	dir := filepath.Join(t.TempDir(), "secrets")
	files := &taskFiles{root: dir}
	secrets, configs := allValues()
	v := &values{}
	v.set(&session.Assignment{Secrets: secrets, Configs: configs})
	for _, id := range []string{"gone", "kept"} {
		tfs, err := v.files(secretTask(id))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := files.materialize(id, tfs); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = files.release("kept"); _ = files.release("gone") })
	fake := runtime.NewFake()
	fake.AddImage("web")
	if err := fake.EnsureImage(context.Background(), "web", nil, nil); err != nil {
		t.Fatal(err)
	}
	kept := secretTask("kept")
	kept.Status.State = types.TaskStateRunning
	spec := mustSpec(t, kept, Host{})
	spec.Mounts = append(spec.Mounts, runtime.Mount{Type: runtime.MountBind, Source: filepath.Join(dir, "kept", "secrets"), Target: SecretsTarget, ReadOnly: true})
	id, err := fake.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	ta := startAgent(t, dir, fake)
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{kept}, Secrets: secrets, Configs: configs}
	testutil.Eventually(t, 10*time.Second, "the gone task's tmpfs is swept", func() bool {
		_, err := os.Stat(filepath.Join(dir, "gone"))
		return os.IsNotExist(err)
	})
	if !isTmpfs(t, filepath.Join(dir, "kept", "secrets", "db")) {
		t.Error("the secrets of a task still assigned were swept")
	}
}

func TestFileTargets(t *testing.T) {
	tests := []struct {
		secret bool
		ft     types.FileTarget
		name   string
		want   string
		err    string
	}{
		{true, types.FileTarget{}, "db", "db", ""},
		{true, types.FileTarget{Name: "sub/../x"}, "db", "x", ""},
		{true, types.FileTarget{Name: "../x"}, "db", "", "must be a file name"},
		{true, types.FileTarget{Name: "/etc/x"}, "db", "", "must be a file name"},
		{false, types.FileTarget{}, "app.conf", "/app.conf", ""},
		{false, types.FileTarget{Name: "etc/x"}, "app", "", "absolute"},
		{true, types.FileTarget{UID: "www-data"}, "db", "", "numeric"},
		{true, types.FileTarget{Mode: fs.ModeSetuid | 0o755}, "db", "", "permission mode"},
	}
	for _, tt := range tests {
		f, err := fileOf(tt.secret, tt.ft, tt.name)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("fileOf(%+v) error %v, want %q", tt.ft, err, tt.err)
		case tt.err == "" && (err != nil || f.Target != tt.want || f.Mode != DefaultFileMode && tt.ft.Mode == 0):
			t.Errorf("fileOf(%+v) = %+v, %v; want target %s", tt.ft, f, err, tt.want)
		}
	}
}

// TestThePullSecretIsTheCredentialOfThePull proves a task's registry
// credential (its pull secret) reaches the runtime's pull and nothing
// else: the task waits for it like for a secret, pulls with it, and gets
// no file of it.
func TestThePullSecretIsTheCredentialOfThePull(t *testing.T) {
	fake := runtime.NewFake()
	auth := types.RegistryAuth{ServerAddress: "127.0.0.1:5000", Username: "ci", Password: "pw-agent-1"}
	fake.RequireAuth("127.0.0.1:5000/private:v1", runtime.RegistryAuth(auth))
	ta := startAgent(t, filepath.Join(t.TempDir(), "secrets"), fake)
	task := &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "app", Slot: 1, NodeID: "n1",
		DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: types.TaskStateAssigned}}
	task.Spec.Container.Image = "127.0.0.1:5000/private:v1"
	task.Spec.Container.PullSecret = "pull1"
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{task}}
	testutil.Eventually(t, 10*time.Second, "the task waits for its credential", func() bool {
		st := ta.mgr.statusOf("t1")
		return st.State == types.TaskStatePreparing && st.Message == "waiting for the service's registry credential"
	})
	value, err := auth.SecretValue()
	if err != nil {
		t.Fatal(err)
	}
	ta.mgr.sets <- &session.Assignment{Tasks: []*types.Task{task}, Secrets: map[string]session.SecretData{"pull1": {ValueVersion: 1, Value: value}}}
	testutil.Eventually(t, 10*time.Second, "the task runs", func() bool { return ta.mgr.statusOf("t1").State == types.TaskStateRunning })
	if got := fake.LastPullAuth(task.Spec.Container.Image); got == nil || *got != runtime.RegistryAuth(auth) {
		t.Fatalf("the runtime pulled with %v, want %v", got, auth)
	}
	if spec := ta.rt.spec("t1"); len(spec.Mounts) != 0 {
		t.Fatalf("the container got mounts %+v: the credential must not become a file", spec.Mounts)
	}
}
