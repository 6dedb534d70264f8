package dispatcher

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/session"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// fakeOpener opens secrets from a map of plaintexts, counting calls; a
// secret can be made to fail.
type fakeOpener struct {
	mu      sync.Mutex
	values  map[string]string
	version map[string]uint64
	failing map[string]bool
	calls   map[string]int
}

func newFakeOpener() *fakeOpener {
	return &fakeOpener{values: map[string]string{}, version: map[string]uint64{}, failing: map[string]bool{}, calls: map[string]int{}}
}

func (f *fakeOpener) set(id, v string, version uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[id], f.version[id] = v, version
}

func (f *fakeOpener) fail(id string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing[id] = fail
}

func (f *fakeOpener) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeOpener) Secret(_ context.Context, id string) (types.SecretValue, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[id]++
	if f.failing[id] {
		return types.SecretValue{}, 0, fmt.Errorf("secret %s: backend down: %w", id, errdefs.ErrUnavailable)
	}
	v, ok := f.values[id]
	if !ok {
		return types.SecretValue{}, 0, fmt.Errorf("secret %s: %w", id, errdefs.ErrNotFound)
	}
	return types.NewSecretValue([]byte(v)), f.version[id], nil
}

// valuesDispatcher is a dispatcher over a memory store holding secret
// "sec1" (plaintext "s3cret", version 1) and config "cfg1" ("k=v").
func valuesDispatcher(t *testing.T) (*Dispatcher, *store.Store, *fakeOpener) {
	t.Helper()
	d, s, _ := memoryDispatcher(t)
	op := newFakeOpener()
	op.set("sec1", "s3cret", 1)
	d.Values = StoreSource{Store: s, Secrets: op}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.CreateSecret(&types.Secret{ID: "sec1", Spec: types.SecretSpec{Name: "db_password"}, ValueVersion: 1, Sealed: []byte("sealed")}); err != nil {
			return err
		}
		return tx.CreateConfig(&types.Config{ID: "cfg1", Spec: types.ConfigSpec{Name: "app.conf"}, ValueVersion: 1, Data: []byte("k=v")})
	})
	return d, s, op
}

func taskWithValues(id, nodeID string) *types.Task {
	t := webTask(id, nodeID, types.TaskStateAssigned, "")
	t.Spec.Container.Secrets = []types.SecretReference{{SecretID: "sec1", SecretName: "db_password"}}
	t.Spec.Container.Configs = []types.ConfigReference{{ConfigID: "cfg1", ConfigName: "app.conf"}}
	return t
}

// nextWithValues reads session messages until one carries values.
func (r *sessionRun) nextWithValues(t *testing.T) *Values {
	t.Helper()
	for {
		if m := r.next(t); m.Values != nil {
			return m.Values
		}
	}
}

// TestValuesReachOnlyTheNodesThatNeedThem proves a node receives the
// values of the secrets and configs its own tasks reference, and a node
// with no such task never receives them, in any message, as its tasks and
// the other node's change.
func TestValuesReachOnlyTheNodesThatNeedThem(t *testing.T) {
	d, s, _ := valuesDispatcher(t)
	n1, n2 := startSession(t, d, "n1"), startSession(t, d, "n2")
	var n2msgs []*SessionMessage
	if m := n2.next(t); m.Values != nil {
		t.Fatalf("n2's first message carries values: %v", m.Values)
	}
	if m := n1.next(t); m.Values != nil {
		t.Fatalf("n1's first message carries values before it has a task: %v", m.Values)
	}

	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.CreateService(webService()); err != nil {
			return err
		}
		if err := tx.CreateTask(taskWithValues("t1", "n1")); err != nil {
			return err
		}
		// n2 runs a task of the same service without the grants.
		return tx.CreateTask(webTask("t2", "n2", types.TaskStateAssigned, ""))
	})
	v := n1.nextWithValues(t)
	if len(v.Secrets) != 1 || v.Secrets[0].ID != "sec1" || string(v.Secrets[0].Value) != "s3cret" || v.Secrets[0].ValueVersion != 1 {
		t.Fatalf("n1's secrets = %v", v.Secrets)
	}
	if len(v.Configs) != 1 || v.Configs[0].ID != "cfg1" || string(v.Configs[0].Data) != "k=v" {
		t.Fatalf("n1's configs = %+v", v.Configs)
	}

	// n1's task changes status: nothing is sent again.
	mustUpdate(t, s, func(tx store.Tx) error {
		t1 := tx.Task("t1").Copy()
		t1.Status.State = types.TaskStateRunning
		return tx.UpdateTask(t1)
	})
	if m := n1.next(t); m.Values != nil {
		t.Fatalf("values sent again without a new version: %v", m.Values)
	}

	// A new version reaches n1 at once.
	d.Values.(StoreSource).Secrets.(*fakeOpener).set("sec1", "n3w", 2)
	mustUpdate(t, s, func(tx store.Tx) error {
		sec := tx.Secret("sec1").Copy()
		sec.ValueVersion = 2
		return tx.UpdateSecret(sec)
	})
	v = n1.nextWithValues(t)
	if len(v.Secrets) != 1 || string(v.Secrets[0].Value) != "n3w" || v.Secrets[0].ValueVersion != 2 || len(v.Configs) != 0 {
		t.Fatalf("after the new version: %v %+v", v.Secrets, v.Configs)
	}

	// The task is told to stop: n1 is told to forget the values.
	mustUpdate(t, s, func(tx store.Tx) error {
		t1 := tx.Task("t1").Copy()
		t1.DesiredState = types.TaskStateShutdown
		return tx.UpdateTask(t1)
	})
	v = n1.nextWithValues(t)
	if len(v.Secrets)+len(v.Configs) != 0 || len(v.RemovedSecrets) != 1 || v.RemovedSecrets[0] != "sec1" ||
		len(v.RemovedConfigs) != 1 || v.RemovedConfigs[0] != "cfg1" {
		t.Fatalf("after the task stopped: %+v", v)
	}

	// Everything n2 was sent meanwhile holds no value.
	n2.cancel()
	n2.end(t)
	for {
		select {
		case m := <-n2.msgs:
			n2msgs = append(n2msgs, m)
			continue
		default:
		}
		break
	}
	for _, m := range n2msgs {
		b, _ := json.Marshal(m)
		if m.Values != nil || strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "n3w") {
			t.Fatalf("n2 received a value: %s", b)
		}
	}
}

// TestAValueThatCannotBeReadIsSentOnceItCan proves a secret whose source
// fails is left out (the node's task waits) and sent once the source
// answers, at the next refresh.
func TestAValueThatCannotBeReadIsSentOnceItCan(t *testing.T) {
	d, s, op := valuesDispatcher(t)
	clk := d.clock.(interface{ Advance(time.Duration) })
	op.fail("sec1", true)
	r := startSession(t, d, "n1")
	r.next(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.CreateTask(taskWithValues("t1", "n1")) })
	v := r.nextWithValues(t)
	if len(v.Secrets) != 0 || len(v.Configs) != 1 {
		t.Fatalf("with the source down: %v %+v", v.Secrets, v.Configs)
	}
	if reason := v.SecretErrors["sec1"]; !strings.Contains(reason, "backend down") {
		t.Fatalf("with the source down the node is told why: SecretErrors = %q", v.SecretErrors)
	}
	// The agent's copy keeps the reason until the value arrives.
	secrets, configs, reasons := map[string]session.SecretData{}, map[string]session.ConfigData{}, map[string]string{}
	v.Apply(secrets, configs, reasons)
	if reasons["sec1"] == "" || len(secrets) != 0 {
		t.Fatalf("applied: secrets %v reasons %q", secrets, reasons)
	}
	op.fail("sec1", false)
	for i := 0; ; i++ {
		clk.Advance(d.valueRefresh())
		select {
		case m := <-r.msgs:
			if m.Values == nil || len(m.Values.Secrets) != 1 || string(m.Values.Secrets[0].Value) != "s3cret" {
				t.Fatalf("after the source recovered: %+v", m)
			}
			m.Values.Apply(secrets, configs, reasons)
			if len(reasons) != 0 || secrets["sec1"].Value.Len() != len("s3cret") {
				t.Fatalf("after delivery: secrets %v reasons %q", secrets, reasons)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 100 {
			t.Fatal("the secret was not sent after the source recovered")
		}
	}
}

// TestValuesAreReadOnceForManySessions proves the value cache: a value
// is read from the source once, however many nodes need it and however
// often their assignments change, until its version changes.
func TestValuesAreReadOnceForManySessions(t *testing.T) {
	d, s, op := valuesDispatcher(t)
	for i := range 3 {
		id := fmt.Sprintf("n%d", i)
		r := startSession(t, d, id)
		r.next(t)
		mustUpdate(t, s, func(tx store.Tx) error { return tx.CreateTask(taskWithValues("t"+id, id)) })
		r.nextWithValues(t)
	}
	if n := op.count("sec1"); n != 1 {
		t.Fatalf("the secret was read %d times, want 1", n)
	}
}

// TestSecretDeliveryRedacts proves a delivery never prints its value.
func TestSecretDeliveryRedacts(t *testing.T) {
	sd := SecretDelivery{ID: "sec1", ValueVersion: 3, Value: []byte("s3cret")}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "delivery", sd, "values", &Values{Secrets: []SecretDelivery{sd}})
	for _, out := range []string{
		fmt.Sprint(sd), fmt.Sprintf("%v %+v %#v %s %x %q %d", sd, sd, sd, sd, sd, sd, sd),
		fmt.Sprintf("%+v", Values{Secrets: []SecretDelivery{sd}}), fmt.Sprintf("%#v", []SecretDelivery{sd}), logged.String(),
	} {
		if strings.Contains(out, "s3cret") || strings.Contains(out, fmt.Sprint([]byte("s3cret"))) || strings.Contains(out, "73336372") {
			t.Fatalf("printed the value: %s", out)
		}
	}
}

// A task's pull secret (its service's registry credential) is a secret it
// references, while it needs its values, like its granted secrets.
func TestReferencesCountThePullSecret(t *testing.T) {
	running := &types.Task{ID: "t1", DesiredState: types.TaskStateRunning, Spec: types.TaskSpec{Container: types.ContainerSpec{
		PullSecret: "pull1", Secrets: []types.SecretReference{{SecretID: "s1"}}}}}
	stopped := &types.Task{ID: "t2", DesiredState: types.TaskStateShutdown, Spec: types.TaskSpec{Container: types.ContainerSpec{PullSecret: "pull2"}}}
	secrets, configs := References([]*types.Task{running, stopped})
	if fmt.Sprint(secrets) != "[pull1 s1]" || len(configs) != 0 {
		t.Fatalf("References = %v %v, want [pull1 s1] and no configs", secrets, configs)
	}
}
