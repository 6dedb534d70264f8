package dockerapi

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/core/ca"
)

// newSwarmHarness is the harness with a CA, so that the backend derives
// join tokens.
func newSwarmHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	root, err := ca.NewRoot(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	h.b.CA, h.b.ClusterAddr = root, "10.1.0.1:4242"
	return h
}

func TestSwarmInspect(t *testing.T) {
	h := newSwarmHarness(t)
	res, err := h.client().SwarmInspect(t.Context(), client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sw := res.Swarm
	tokens, err := h.b.JoinTokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sw.ID != "clusteraaaaaaaaaaaaaaaaaa" || sw.Spec.Name != "default" || sw.Spec.EncryptionConfig.AutoLockManagers ||
		sw.JoinTokens.Worker != tokens.Worker || sw.JoinTokens.Manager != tokens.Manager || tokens.Worker == "" || tokens.Worker == tokens.Manager {
		t.Errorf("swarm = %+v, tokens %+v", sw, tokens)
	}
}

func TestSwarmUpdateRotatesJoinTokens(t *testing.T) {
	h := newSwarmHarness(t)
	c := h.client()
	read, err := c.SwarmInspect(t.Context(), client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := read.Swarm.JoinTokens
	if _, err := c.SwarmUpdate(t.Context(), client.SwarmUpdateOptions{Version: read.Swarm.Version, Spec: read.Swarm.Spec, RotateWorkerToken: true}); err != nil {
		t.Fatal(err)
	}
	after, err := c.SwarmInspect(t.Context(), client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Swarm.JoinTokens; got.Worker == before.Worker || got.Manager != before.Manager {
		t.Errorf("after rotating the worker token: %+v, was %+v", got, before)
	}
	if _, err := c.SwarmUpdate(t.Context(), client.SwarmUpdateOptions{Version: read.Swarm.Version, Spec: read.Swarm.Spec, RotateManagerToken: true}); err != nil {
		t.Fatal(err)
	}
	if g := h.b.Generations(); g.Worker != 1 || g.Manager != 1 {
		t.Errorf("token generations = %+v, want one rotation of each", g)
	}
}

func TestSwarmUpdateRefusesWhatHiveHasNot(t *testing.T) {
	h := newSwarmHarness(t)
	c := h.client()
	read, err := c.SwarmInspect(t.Context(), client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(3)
	for _, tc := range []struct {
		name string
		edit func(*swarm.Spec)
		want string
	}{
		{"raft", func(s *swarm.Spec) { s.Raft.SnapshotInterval = 100 }, "hive does not support Spec.Raft"},
		{"orchestration", func(s *swarm.Spec) { s.Orchestration.TaskHistoryRetentionLimit = &limit }, "Spec.Orchestration"},
		{"ca", func(s *swarm.Spec) { s.CAConfig.NodeCertExpiry = time.Hour }, "Spec.CAConfig"},
		{"name", func(s *swarm.Spec) { s.Name = "prod" }, `Spec.Name "prod"`},
		{"labels", func(s *swarm.Spec) { s.Labels = map[string]string{"a": "b"} }, "Spec.Labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := read.Swarm.Spec
			tc.edit(&spec)
			_, err := c.SwarmUpdate(t.Context(), client.SwarmUpdateOptions{Version: read.Swarm.Version, Spec: spec, RotateWorkerToken: true})
			if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a 400 with %q", err, tc.want)
			}
		})
	}
	if g := h.b.Generations(); g.Worker != 0 {
		t.Errorf("a refused update rotated the worker token")
	}
	resp := h.raw(http.MethodPost, "/v1.44/swarm/update?version=1&rotateWorkerToken=maybe")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "invalid value for rotateWorkerToken: maybe") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

func TestSwarmAutolockAndUnlockKey(t *testing.T) {
	h := newSwarmHarness(t)
	c := h.client()
	k, err := c.SwarmGetUnlockKey(t.Context())
	if err != nil || k.Key != "" {
		t.Errorf("unlock key with autolock off = %q, %v; want none, as dockerd answers", k.Key, err)
	}
	read, err := c.SwarmInspect(t.Context(), client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := read.Swarm.Spec
	spec.EncryptionConfig.AutoLockManagers = true
	if _, err := c.SwarmUpdate(t.Context(), client.SwarmUpdateOptions{Version: read.Swarm.Version, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if !h.b.Called("SetAutolock") {
		t.Fatalf("turning AutoLockManagers on did not call SetAutolock: %v", h.b.Calls())
	}
	// The fake's Info is what the test sets; the daemon's reports the
	// cluster's autolock.
	h.b.InfoValue.Autolock = true
	k, err = c.SwarmGetUnlockKey(t.Context())
	if err != nil || !strings.HasPrefix(k.Key, "HIVEKEY-") {
		t.Fatalf("unlock key = %q, %v", k.Key, err)
	}
	if _, err := c.SwarmUpdate(t.Context(), client.SwarmUpdateOptions{Version: read.Swarm.Version, Spec: spec, RotateManagerUnlockKey: true}); err != nil {
		t.Fatal(err)
	}
	k2, err := c.SwarmGetUnlockKey(t.Context())
	if err != nil || k2.Key == k.Key || k2.Key == "" {
		t.Errorf("after the rotation: %q, %v (was %q)", k2.Key, err, k.Key)
	}
	if _, err := c.SwarmUnlock(t.Context(), client.SwarmUnlockOptions{Key: "HIVEKEY-1-wrong"}); !cerrdefs.IsPermissionDenied(err) {
		t.Errorf("unlock with a wrong key: %v, want a 403", err)
	}
	if _, err := c.SwarmUnlock(t.Context(), client.SwarmUnlockOptions(k2)); err != nil {
		t.Errorf("unlock with the key: %v", err)
	}
}

func TestSwarmInitJoinLeave(t *testing.T) {
	h := newSwarmHarness(t)
	c := h.client()
	_, err := c.SwarmInit(t.Context(), client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377"})
	if !cerrdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "'hive up'") {
		t.Errorf("init: %v, want a 503 pointing to hive up", err)
	}
	_, err = c.SwarmJoin(t.Context(), client.SwarmJoinOptions{RemoteAddrs: []string{"10.0.0.9:2377"}, JoinToken: "SWMTKN-1-x"})
	if !cerrdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "'hive join --token") {
		t.Errorf("join: %v, want a 503 pointing to hive join", err)
	}
	if _, err := c.SwarmLeave(t.Context(), client.SwarmLeaveOptions{Force: true}); err != nil || !h.b.Called("Leave") {
		t.Errorf("leave: %v (calls %v)", err, h.b.Calls())
	}
}

// /swarm/update checks the version GET /swarm answered, as dockerd does.
func TestSwarmUpdateChecksTheVersion(t *testing.T) {
	h := newSwarmHarness(t)
	c := h.client()
	h.b.InfoValue.ClusterVersion = 5
	_, _ = h.b.Info(t.Context()) // takes the backend's lock: the server's read comes after this write
	read, err := c.SwarmInspect(t.Context(), client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if read.Swarm.Version.Index != 5 {
		t.Fatalf("swarm inspect: version %d, want the cluster's 5", read.Swarm.Version.Index)
	}
	stale := swarm.Version{Index: 4}
	_, err = c.SwarmUpdate(t.Context(), client.SwarmUpdateOptions{Version: stale, Spec: read.Swarm.Spec, RotateWorkerToken: true})
	if !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "update out of sequence") {
		t.Fatalf("update with a stale version: %v, want a 409 out of sequence", err)
	}
	if h.b.Called("RotateJoinToken") {
		t.Fatal("a stale update rotated the token")
	}
	if _, err := c.SwarmUpdate(t.Context(), client.SwarmUpdateOptions{Version: read.Swarm.Version, Spec: read.Swarm.Spec, RotateWorkerToken: true}); err != nil {
		t.Fatalf("update with the version read: %v", err)
	}
}
