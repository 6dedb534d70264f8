package dockerapi

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/internal/testutil"
)

const workerID = "node2bbbbbbbbbbbbbbbbbbbb"

func nodeIDs(nodes []swarm.Node) []string {
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestNodeListFilters(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	both := []string{selfID, workerID}
	for _, tc := range []struct {
		name    string
		filters client.Filters
		want    []string
		err     string
	}{
		{"none", nil, both, ""},
		{"id prefix", client.Filters{}.Add("id", "node2"), []string{workerID}, ""},
		{"two id prefixes", client.Filters{}.Add("id", "node2", "node1"), both, ""},
		{"hostname prefix", client.Filters{}.Add("name", "lap"), []string{selfID}, ""},
		{"role manager", client.Filters{}.Add("role", "manager"), []string{selfID}, ""},
		{"role worker", client.Filters{}.Add("role", "worker"), []string{workerID}, ""},
		{"label key", client.Filters{}.Add("label", "zone"), []string{selfID}, ""},
		{"node.label key=value", client.Filters{}.Add("node.label", "zone=a"), []string{selfID}, ""},
		{"node.label other value", client.Filters{}.Add("node.label", "zone=b"), nil, ""},
		{"membership accepted", client.Filters{}.Add("membership", "accepted"), both, ""},
		{"membership pending", client.Filters{}.Add("membership", "pending"), nil, ""},
		{"terms and together", client.Filters{}.Add("role", "worker").Add("name", "lap"), nil, ""},
		{"unknown filter", client.Filters{}.Add("x", "y"), nil, "invalid filter 'x'"},
		{"bad role", client.Filters{}.Add("role", "boss"), nil, "Invalid role filter: 'boss'"},
		{"bad membership", client.Filters{}.Add("membership", "maybe"), nil, "Invalid membership filter: 'maybe'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.NodeList(t.Context(), client.NodeListOptions{Filters: tc.filters})
			if wantInvalid(t, err, tc.err) {
				return
			}
			if got := nodeIDs(res.Items); !slices.Equal(got, tc.want) {
				t.Errorf("nodes = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNodeIsShownAsDockerdShowsIt(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	// The harness's agent registers the node meanwhile: compare with the
	// stored node of a read that no write came between.
	for try := 0; ; try++ {
		before, _ := h.b.GetNode(t.Context(), selfID)
		res, err := c.NodeInspect(t.Context(), selfID, client.NodeInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := h.b.GetNode(t.Context(), selfID)
		if stored.Version != before.Version && try < 20 {
			continue
		}
		want := swarm.Node{
			ID:   selfID,
			Meta: swarm.Meta{Version: swarm.Version{Index: stored.Version}, CreatedAt: stored.CreatedAt, UpdatedAt: stored.UpdatedAt},
			Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}},
				Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityActive},
			Description: swarm.NodeDescription{Hostname: "laptop", Platform: swarm.Platform{OS: "linux", Architecture: "x86_64"},
				Resources: swarm.Resources{NanoCPUs: 2e9, MemoryBytes: 8 << 30},
				Engine:    swarm.EngineDescription{EngineVersion: "20.10.24", Labels: map[string]string{"zone": "a"}}},
			Status:        swarm.NodeStatus{State: swarm.NodeStateReady, Addr: stored.Status.Addr},
			ManagerStatus: &swarm.ManagerStatus{Leader: true, Reachability: swarm.ReachabilityReachable, Addr: "10.1.0.1:4242"},
		}
		if stored.Version == 0 || stored.CreatedAt.IsZero() || stored.Status.Addr == "" {
			t.Fatalf("the stored node lacks a version, a creation time or an address: %+v", stored)
		}
		g, _ := json.Marshal(res.Node)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("node =\n%s\nwant\n%s", g, w)
		}
		return
	}
}

func TestNodeInspectByReference(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for ref, want := range map[string]string{selfID: selfID, "node2": workerID, "worker-1": workerID, "self": selfID, "laptop": selfID} {
		res, err := c.NodeInspect(t.Context(), ref, client.NodeInspectOptions{})
		if err != nil || res.Node.ID != want {
			t.Errorf("inspect %s = %s, %v; want %s", ref, res.Node.ID, err, want)
		}
	}
	_, err := c.NodeInspect(t.Context(), "nope", client.NodeInspectOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), `node "nope" not found`) {
		t.Errorf("inspect nope: %v, want a 404 saying the node is not found", err)
	}
	_, err = c.NodeInspect(t.Context(), "node", client.NodeInspectOptions{})
	if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("inspect an ambiguous prefix: %v, want a 400", err)
	}
}

func TestNodeUpdate(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res, err := c.NodeInspect(t.Context(), "worker-1", client.NodeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	read := res.Node
	spec := read.Spec
	spec.Availability = swarm.NodeAvailabilityActive
	spec.Labels = map[string]string{"disk": "ssd"}
	if _, err := c.NodeUpdate(t.Context(), read.ID, client.NodeUpdateOptions{Version: read.Version, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	res, err = c.NodeInspect(t.Context(), read.ID, client.NodeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Node; got.Spec.Availability != swarm.NodeAvailabilityActive || got.Spec.Labels["disk"] != "ssd" || got.Version.Index <= read.Version.Index {
		t.Errorf("after the update: %+v (version %d, was %d)", got.Spec, got.Version.Index, read.Version.Index)
	}

	t.Run("stale version", func(t *testing.T) {
		_, err := c.NodeUpdate(t.Context(), read.ID, client.NodeUpdateOptions{Version: read.Version, Spec: spec})
		if !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "changed since it was read") {
			t.Errorf("update with the old version: %v, want a 409", err)
		}
	})
	for _, tc := range []struct {
		name string
		edit func(*swarm.NodeSpec)
		want string
	}{
		{"name", func(s *swarm.NodeSpec) { s.Name = "big" }, "hive does not support Spec.Name on nodes"},
		{"role", func(s *swarm.NodeSpec) { s.Role = "boss" }, `invalid Spec.Role "boss"`},
		{"availability", func(s *swarm.NodeSpec) { s.Availability = "" }, `invalid Spec.Availability ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := res.Node.Spec
			tc.edit(&s)
			_, err := c.NodeUpdate(t.Context(), read.ID, client.NodeUpdateOptions{Version: res.Node.Version, Spec: s})
			if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a 400 with %q", err, tc.want)
			}
		})
	}
	t.Run("bad version parameter", func(t *testing.T) {
		resp := h.raw(http.MethodPost, "/v1.44/nodes/"+read.ID+"/update?version=x")
		var body struct{ Message string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 400 || !strings.Contains(body.Message, "invalid node version 'x'") {
			t.Errorf("%d %q", resp.StatusCode, body.Message)
		}
	})
}

func TestNodeRemove(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	_, err := c.NodeRemove(t.Context(), "self", client.NodeRemoveOptions{Force: true})
	if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "is a manager: demote it first") {
		t.Errorf("remove the manager: %v, want the backend's 400", err)
	}
	if _, err := c.NodeRemove(t.Context(), "worker-1", client.NodeRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NodeInspect(t.Context(), workerID, client.NodeInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect the removed node: %v, want a 404", err)
	}
	if _, err := c.NodeRemove(t.Context(), "worker-1", client.NodeRemoveOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("remove it again: %v, want a 404", err)
	}
}

// TestDockerNodeLs runs the docker CLI against the harness: it marks the
// node it talks to with "*" and shows the manager status and engine
// version.
func TestDockerNodeLs(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		testutil.Unavailable(t, "the docker CLI is not installed (apt-get install docker.io): %v", err)
	}
	h := newHarness(t)
	cmd := exec.CommandContext(t.Context(), docker, "node", "ls", "--format", "{{.Self}}|{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}|{{.EngineVersion}}")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+h.sock, "DOCKER_CONFIG="+filepath.Join(t.TempDir(), "docker"), "DOCKER_CONTEXT=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker node ls: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	slices.Sort(got)
	want := []string{"false|worker-1|Down|Drain||20.10.24", "true|laptop|Ready|Active|Leader|20.10.24"}
	if !slices.Equal(got, want) {
		t.Errorf("docker node ls =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cmd = exec.CommandContext(t.Context(), docker, "node", "ls")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+h.sock, "DOCKER_CONFIG="+filepath.Join(t.TempDir(), "docker"), "DOCKER_CONTEXT=")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), selfID+" *") || !strings.Contains(string(out), "MANAGER STATUS") {
		t.Errorf("docker node ls: %v\n%s\nwant the self node marked with *", err, out)
	}
}
