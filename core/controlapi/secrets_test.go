package controlapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/keyring"
	"github.com/hiveorch/hive/core/seal"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

func withKey(t *testing.T, s *Server) *seal.Key {
	t.Helper()
	k, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s.SetDataKey(k)
	return k
}

func value(s string) types.SecretValue { return types.NewSecretValue([]byte(s)) }

func TestCreateSecretSealsTheValueAndNeverReturnsIt(t *testing.T) {
	s, st := newServer(t)
	ctx := context.Background()
	const plain = "correct-horse-battery-staple"
	if _, err := s.CreateSecret(ctx, types.SecretSpec{Name: "db"}, value(plain)); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("create without a data key: %v, want unavailable", err)
	}
	dek := withKey(t, s)
	sec, err := s.CreateSecret(ctx, types.SecretSpec{Name: "db", Labels: map[string]string{"env": "prod"}}, value(plain))
	if err != nil {
		t.Fatal(err)
	}
	if sec.Sealed != nil || sec.ValueVersion != 1 || sec.Spec.Labels["env"] != "prod" {
		t.Fatalf("created secret = %+v: want no sealed bytes, version 1, the labels", sec)
	}
	var stored *types.Secret
	st.View(func(tx store.ReadTx) { stored = tx.SecretByName("db") })
	if bytes.Contains(stored.Sealed, []byte(plain)) {
		t.Fatal("the store holds the plaintext")
	}
	got, err := seal.Open(dek, stored.Sealed)
	if err != nil || string(got) != plain {
		t.Fatalf("the stored value does not open to the plaintext: %v", err)
	}
	for _, ref := range []string{"db", sec.ID, sec.ID[:6]} {
		g, err := s.GetSecret(ctx, ref)
		if err != nil || g.ID != sec.ID || g.Sealed != nil {
			t.Errorf("GetSecret(%q) = %+v, %v", ref, g, err)
		}
	}
	list, _ := s.ListSecrets(ctx)
	if len(list) != 1 || list[0].Sealed != nil {
		t.Fatalf("ListSecrets = %+v", list)
	}
	if _, err := s.GetSecret(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("GetSecret(nope) = %v, want not found", err)
	}

	tests := []struct {
		name  string
		spec  types.SecretSpec
		value string
		kind  error
		want  string
	}{
		{"taken name", types.SecretSpec{Name: "db"}, "x", errdefs.ErrConflict, "already in use"},
		{"bad name", types.SecretSpec{Name: "-db"}, "x", errdefs.ErrInvalidArgument, "invalid secret name"},
		{"empty", types.SecretSpec{Name: "e"}, "", errdefs.ErrInvalidArgument, "empty"},
		{"too large", types.SecretSpec{Name: "big"}, strings.Repeat("p", types.MaxSecretSize+1), errdefs.ErrInvalidArgument, "500 KB"},
		{"driver with a value", types.SecretSpec{Name: "v", Driver: &types.Driver{Name: "vault"}}, "pw", errdefs.ErrInvalidArgument, "takes no value"},
	}
	for _, tc := range tests {
		_, err := s.CreateSecret(ctx, tc.spec, value(tc.value))
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.kind, tc.want)
		}
		if err != nil && len(tc.value) > 1 && strings.Contains(err.Error(), tc.value) {
			t.Errorf("%s: the error contains the value", tc.name)
		}
	}
	drv, err := s.CreateSecret(ctx, types.SecretSpec{Name: "vaulted", Driver: &types.Driver{Name: "vault", Options: map[string]string{"path": "secret/app"}}}, types.SecretValue{})
	if err != nil || drv.Spec.Driver == nil || drv.Sealed != nil {
		t.Fatalf("driver secret: %+v, %v", drv, err)
	}

	// A driver the manager's check refuses: a clear error, nothing stored.
	s.SetSecretDriverCheck(func(_ context.Context, d types.Driver) error {
		if d.Options["path"] == "" {
			return errors.New("secret driver vault: option path is required")
		}
		return nil
	})
	if _, err := s.CreateSecret(ctx, types.SecretSpec{Name: "nopath", Driver: &types.Driver{Name: "vault"}}, types.SecretValue{}); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "secret nopath: secret driver vault: option path is required") {
		t.Errorf("create with a refused driver: %v", err)
	}
	if _, err := s.GetSecret(ctx, "nopath"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a refused secret was stored: %v", err)
	}
}

func TestServicesReferenceSecretsAndConfigsByName(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	withKey(t, s)
	sec, _ := s.CreateSecret(ctx, types.SecretSpec{Name: "db"}, value("pw"))
	cfg, err := s.CreateConfig(ctx, types.ConfigSpec{Name: "app.conf"}, []byte("port=80"))
	if err != nil {
		t.Fatal(err)
	}
	sp := spec("web")
	sp.Task.Container.Secrets = []types.SecretReference{{SecretName: "db"}, {SecretName: "db", File: types.FileTarget{Name: "app/db", UID: "1000", Mode: 0o400}}}
	sp.Task.Container.Configs = []types.ConfigReference{{ConfigName: "app.conf"}}
	svc, err := s.CreateService(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	refs := svc.Spec.Task.Container.Secrets
	if refs[0].SecretID != sec.ID || refs[0].File != (types.FileTarget{Name: "db", UID: "0", GID: "0", Mode: 0o444}) {
		t.Errorf("first secret reference = %+v", refs[0])
	}
	if refs[1].File != (types.FileTarget{Name: "app/db", UID: "1000", GID: "0", Mode: 0o400}) {
		t.Errorf("second secret reference = %+v", refs[1])
	}
	if c := svc.Spec.Task.Container.Configs[0]; c.ConfigID != cfg.ID || c.File.Name != "/app.conf" {
		t.Errorf("config reference = %+v", c)
	}

	bad := spec("api")
	bad.Task.Container.Secrets = []types.SecretReference{{SecretName: "missing"}}
	if _, err := s.CreateService(ctx, bad); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "hive secret create missing") {
		t.Errorf("unknown secret: %v", err)
	}
	bad = spec("api")
	bad.Task.Container.Configs = []types.ConfigReference{{ConfigName: "missing"}}
	if _, err := s.CreateService(ctx, bad); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "hive config create missing") {
		t.Errorf("unknown config: %v", err)
	}

	// Removing the reference through an update frees the secret.
	next := svc.Spec.Copy()
	next.Task.Container.Secrets = nil
	up, err := s.UpdateService(ctx, "web", svc.Version, next)
	if err != nil {
		t.Fatal(err)
	}
	if up.UpdateStatus == nil || up.UpdateStatus.State != types.UpdateUpdating {
		t.Errorf("dropping a secret did not roll the service: %+v", up.UpdateStatus)
	}
	if err := s.RemoveSecret(ctx, "db"); err != nil {
		t.Fatalf("remove a secret no service uses: %v", err)
	}
}

func TestRemoveRefusedWhileServicesUseIt(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	withKey(t, s)
	if _, err := s.CreateSecret(ctx, types.SecretSpec{Name: "db"}, value("pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateConfig(ctx, types.ConfigSpec{Name: "app"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "api"} {
		sp := spec(name)
		sp.Task.Container.Secrets = []types.SecretReference{{SecretName: "db"}}
		sp.Task.Container.Configs = []types.ConfigReference{{ConfigName: "app"}}
		if _, err := s.CreateService(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	err := s.RemoveSecret(ctx, "db")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "in use by services api, web") {
		t.Fatalf("RemoveSecret while used: %v", err)
	}
	err = s.RemoveConfig(ctx, "app")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "in use by services api, web") {
		t.Fatalf("RemoveConfig while used: %v", err)
	}
	for _, name := range []string{"web", "api"} {
		if err := s.RemoveService(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveSecret(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveConfig(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSecret(ctx, "db"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("secret still there: %v", err)
	}
}

func TestRotationRollsEveryServiceThatUsesIt(t *testing.T) {
	s, st := newServer(t)
	ctx := context.Background()
	dek := withKey(t, s)
	sec, _ := s.CreateSecret(ctx, types.SecretSpec{Name: "db"}, value("v1"))
	cfg, _ := s.CreateConfig(ctx, types.ConfigSpec{Name: "app"}, []byte("a=1"))
	mk := func(name string, secret, config bool) *types.Service {
		sp := spec(name)
		if secret {
			sp.Task.Container.Secrets = []types.SecretReference{{SecretName: "db"}}
		}
		if config {
			sp.Task.Container.Configs = []types.ConfigReference{{ConfigName: "app"}}
		}
		svc, err := s.CreateService(ctx, sp)
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	users := []*types.Service{mk("web", true, false), mk("api", true, true)}
	other := mk("static", false, true)

	up, err := s.UpdateSecret(ctx, "db", value("v2"))
	if err != nil {
		t.Fatal(err)
	}
	if up.ValueVersion != 2 || up.Sealed != nil {
		t.Fatalf("rotated secret = %+v: want version 2 and no sealed bytes", up)
	}
	var stored *types.Secret
	st.View(func(tx store.ReadTx) { stored = tx.Secret(sec.ID) })
	if got, err := seal.Open(dek, stored.Sealed); err != nil || string(got) != "v2" {
		t.Fatalf("the stored value is not the new one: %v", err)
	}
	for _, before := range users {
		after, _ := s.GetService(ctx, before.ID)
		if after.Spec.Task.ForceUpdate != before.Spec.Task.ForceUpdate+1 || after.SpecVersion != before.SpecVersion+1 {
			t.Errorf("service %s was not rolled: force %d, spec version %d", before.Spec.Name, after.Spec.Task.ForceUpdate, after.SpecVersion)
		}
		if after.UpdateStatus == nil || after.UpdateStatus.State != types.UpdateUpdating || after.UpdateStatus.SpecVersion != after.SpecVersion {
			t.Errorf("service %s has no update under way: %+v", before.Spec.Name, after.UpdateStatus)
		}
	}
	if after, _ := s.GetService(ctx, other.ID); after.SpecVersion != other.SpecVersion {
		t.Errorf("service static, which does not use the secret, was rolled")
	}

	upc, err := s.UpdateConfig(ctx, cfg.ID, []byte("a=2"))
	if err != nil {
		t.Fatal(err)
	}
	if upc.ValueVersion != 2 || string(upc.Data) != "a=2" {
		t.Fatalf("updated config = %+v", upc)
	}
	if after, _ := s.GetService(ctx, other.ID); after.SpecVersion != other.SpecVersion+1 {
		t.Errorf("service static, which uses the config, was not rolled")
	}
	if after, _ := s.GetService(ctx, "web"); after.SpecVersion != users[0].SpecVersion+1 {
		t.Errorf("service web, which does not use the config, was rolled by its update")
	}
	// The value or data held already: no new version, no service rolled.
	rolledTo := map[string]uint64{}
	for _, name := range []string{"web", "api", "static"} {
		svc, _ := s.GetService(ctx, name)
		rolledTo[name] = svc.SpecVersion
	}
	if same, err := s.UpdateSecret(ctx, "db", value("v2")); err != nil || same.ValueVersion != 2 {
		t.Errorf("update to the value held: version %d, %v; want 2 (unchanged)", same.ValueVersion, err)
	}
	if same, err := s.UpdateConfig(ctx, "app", []byte("a=2")); err != nil || same.ValueVersion != 2 {
		t.Errorf("update to the data held: version %d, %v; want 2 (unchanged)", same.ValueVersion, err)
	}
	for name, was := range rolledTo {
		if svc, _ := s.GetService(ctx, name); svc.SpecVersion != was {
			t.Errorf("service %s rolled by an update that changed nothing: spec version %d -> %d", name, was, svc.SpecVersion)
		}
	}
	if _, err := s.UpdateSecret(ctx, "db", value("")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("rotation to an empty value: %v", err)
	}
	if _, err := s.UpdateConfig(ctx, "app", make([]byte, types.MaxConfigSize+1)); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("config update too large: %v", err)
	}
}

// encodings returns the forms a plaintext could take in a file: its bytes,
// and the base64 a JSON []byte field would hold, at each alignment.
func encodings(plain []byte) [][]byte {
	out := [][]byte{plain}
	for k := range 3 {
		enc := base64.StdEncoding.EncodeToString(plain[k:])
		out = append(out, []byte(enc[:len(enc)-4]))
	}
	return out
}

// TestNoPlaintextInTheDataDir creates and rotates secrets through the API
// on a Raft store in a real data directory, forces a snapshot, closes the
// store and reads every file under the directory: neither a plaintext
// value nor the data-encryption key appears anywhere.
func TestNoPlaintextInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	_, trans := raft.NewInmemTransport("")
	st, err := store.Open(store.Config{DataDir: dir, NodeID: "m1", Transport: trans, Bootstrap: true,
		HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 50 * time.Millisecond, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			st.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for lead := range st.LeaderCh() {
		if lead {
			break
		}
	}
	s := New(st, clk, "m1", nil, nil, slog.New(slog.DiscardHandler))
	dek, _ := seal.NewKey()
	s.SetDataKey(dek)
	if err := keyring.Create(dir, dek); err != nil {
		t.Fatal(err)
	}

	var plains [][]byte
	for i := range 5 {
		p := fmt.Appendf(nil, "PLAINTEXT-%d-the-quick-brown-fox-%d", i, i*7919)
		plains = append(plains, p)
		if _, err := s.CreateSecret(ctx, types.SecretSpec{Name: fmt.Sprintf("s%d", i)}, types.NewSecretValue(p)); err != nil {
			t.Fatal(err)
		}
	}
	sp := spec("web")
	sp.Task.Container.Secrets = []types.SecretReference{{SecretName: "s0"}}
	if _, err := s.CreateService(ctx, sp); err != nil {
		t.Fatal(err)
	}
	rotated := []byte("PLAINTEXT-rotated-jumps-over-the-lazy-dog")
	plains = append(plains, rotated)
	if _, err := s.UpdateSecret(ctx, "s0", types.NewSecretValue(rotated)); err != nil {
		t.Fatal(err)
	}
	if err := st.Snapshot(); err != nil {
		t.Fatal(err)
	}
	last := []byte("PLAINTEXT-after-the-snapshot-in-the-log-only")
	plains = append(plains, last)
	if _, err := s.CreateSecret(ctx, types.SecretSpec{Name: "late"}, types.NewSecretValue(last)); err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	files := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, plain := range plains {
			for _, n := range encodings(plain) {
				if bytes.Contains(b, n) {
					t.Errorf("%s holds the plaintext %q (as %q)", p, plain, n)
				}
			}
		}
		for _, n := range encodings(dek.Bytes()) {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds the data-encryption key", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The log, a snapshot and the keyring at least.
	if files < 4 {
		t.Fatalf("only %d files under the data dir: the test did not write what it meant to", files)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*", "state.bin"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot was written")
	}
}
