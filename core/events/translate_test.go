package events

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// line is an event in one line: TYPE ACTION ID k=v ... (sorted), the
// form the table's wants are written in.
func line(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s @%d", ev.Type, ev.Action, ev.Actor.ID, ev.Index)
	for _, k := range slices.Sorted(maps.Keys(ev.Actor.Attributes)) {
		fmt.Fprintf(&b, " %s=%s", k, ev.Actor.Attributes[k])
	}
	return b.String()
}

func task(state types.TaskState, mod func(*types.Task)) *types.Task {
	t := &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 2, NodeID: "n1",
		DesiredState: types.TaskStateRunning, Status: types.TaskStatus{State: state}}
	if mod != nil {
		mod(t)
	}
	return t
}

func node(mod func(*types.Node)) *types.Node {
	n := &types.Node{ID: "n1", Spec: types.NodeSpec{Role: types.RoleWorker, Availability: types.AvailabilityActive},
		Description: types.NodeDescription{Hostname: "laptop"}, Status: types.NodeStatus{State: types.NodeStateReady}}
	if mod != nil {
		mod(n)
	}
	return n
}

func service(replicas, version uint64, image string) *types.Service {
	return &types.Service{ID: "s1", SpecVersion: version,
		Spec: types.ServiceSpec{Name: "web", Replicas: replicas, Task: types.TaskSpec{Container: types.ContainerSpec{Image: image}}}}
}

func TestFromStore(t *testing.T) {
	names := func(id string) string { return map[string]string{"n1": "laptop"}[id] }
	up, del, mk := store.ActionUpdate, store.ActionDelete, store.ActionCreate
	tests := []struct {
		name string
		ev   store.Event
		want []string
	}{
		{"task create", store.Event{Action: mk, Index: 7, Task: task(types.TaskStateNew, func(t *types.Task) { t.NodeID = "" })},
			[]string{"task create t1 @7 desired_state=running name=web.2 service=web service_id=s1 slot=2 state=new"}},
		{"task state change names the new state and the node", store.Event{Action: up, Index: 8,
			OldTask: task(types.TaskStateStarting, nil), Task: task(types.TaskStateRunning, nil)},
			[]string{"task running t1 @8 desired_state=running name=web.2 node=laptop node_id=n1 service=web service_id=s1 slot=2 state=running"}},
		{"task failed carries exit code and error", store.Event{Action: up, Index: 9,
			OldTask: task(types.TaskStateRunning, nil), Task: task(types.TaskStateFailed, func(t *types.Task) {
				t.Status.ExitCode, t.Status.Err, t.Status.ContainerID = 137, "task: non-zero exit (137)", "c1"
			})},
			[]string{"task failed t1 @9 desired_state=running error=task: non-zero exit (137) exit_code=137 name=web.2 node=laptop node_id=n1 service=web service_id=s1 slot=2 state=failed"}},
		{"task update without a state change is no event", store.Event{Action: up,
			OldTask: task(types.TaskStateRunning, nil), Task: task(types.TaskStateRunning, func(t *types.Task) { t.DesiredState = types.TaskStateShutdown })},
			nil},
		{"task remove", store.Event{Action: del, Index: 3, Task: task(types.TaskStateShutdown, func(t *types.Task) { t.NodeID = "gone" })},
			[]string{"task remove t1 @3 desired_state=running name=web.2 node_id=gone service=web service_id=s1 slot=2 state=shutdown"}},
		{"service create", store.Event{Action: mk, Index: 1, Service: service(2, 1, "app:1")},
			[]string{"service create s1 @1 name=web"}},
		{"service scale", store.Event{Action: up, Index: 2, OldService: service(2, 1, "app:1"), Service: service(3, 2, "app:1")},
			[]string{"service update s1 @2 name=web replicas.new=3 replicas.old=2"}},
		{"service image update", store.Event{Action: up, OldService: service(2, 1, "app:1"), Service: service(2, 2, "app:2")},
			[]string{"service update s1 @0 image.new=app:2 image.old=app:1 name=web"}},
		{"service status only is no event", store.Event{Action: up, OldService: service(2, 2, "a"), Service: service(2, 2, "a")}, nil},
		{"service remove", store.Event{Action: del, Service: service(2, 2, "a")}, []string{"service remove s1 @0 name=web"}},
		{"node join", store.Event{Action: mk, Node: node(nil)},
			[]string{"node create n1 @0 availability=active name=laptop role=worker state=ready"}},
		{"node down", store.Event{Action: up, OldNode: node(nil), Node: node(func(n *types.Node) {
			n.Status = types.NodeStatus{State: types.NodeStateDown, Message: "heartbeat missed"}
		})}, []string{"node down n1 @0 availability=active message=heartbeat missed name=laptop role=worker state=down"}},
		{"node drain and promote at once", store.Event{Action: up, OldNode: node(nil), Node: node(func(n *types.Node) {
			n.Spec.Availability, n.Spec.Role = types.AvailabilityDrain, types.RoleManager
		})}, []string{
			"node availability n1 @0 availability=drain name=laptop role=manager state=ready",
			"node promote n1 @0 availability=drain name=laptop role=manager state=ready"}},
		{"node demote", store.Event{Action: up, OldNode: node(func(n *types.Node) { n.Spec.Role = types.RoleManager }), Node: node(nil)},
			[]string{"node demote n1 @0 availability=active name=laptop role=worker state=ready"}},
		{"node label", store.Event{Action: up, OldNode: node(nil), Node: node(func(n *types.Node) { n.Spec.Labels = map[string]string{"a": "b"} })},
			[]string{"node update n1 @0 availability=active name=laptop role=worker state=ready"}},
		{"node unchanged is no event", store.Event{Action: up, OldNode: node(nil), Node: node(nil)}, nil},
		{"node remove", store.Event{Action: del, Node: node(nil)},
			[]string{"node remove n1 @0 availability=active name=laptop role=worker state=ready"}},
		{"secret create has name and labels, never the value", store.Event{Action: mk, Secret: &types.Secret{ID: "x1",
			Spec: types.SecretSpec{Name: "db", Labels: map[string]string{"env": "prod", "name": "spoof"}}, Sealed: []byte("sealed")}},
			[]string{"secret create x1 @0 env=prod name=db"}},
		{"config remove", store.Event{Action: del, Config: &types.Config{ID: "c1", Spec: types.ConfigSpec{Name: "nginx"}, Data: []byte("conf")}},
			[]string{"config remove c1 @0 name=nginx"}},
		{"network create", store.Event{Action: mk, Network: &types.Network{ID: "w1", Spec: types.NetworkSpec{Name: "front", Driver: "overlay"}}},
			[]string{"network create w1 @0 driver=overlay name=front"}},
		{"network update is no event", store.Event{Action: up, Network: &types.Network{ID: "w1"}}, nil},
		{"cluster autolock on", store.Event{Action: up, OldCluster: &types.Cluster{ID: "cluster"},
			Cluster: &types.Cluster{ID: "cluster", Encryption: types.Encryption{Autolock: true}}},
			[]string{"cluster lock cluster @0 autolock=true"}},
		{"cluster autolock off", store.Event{Action: up, OldCluster: &types.Cluster{ID: "cluster", Encryption: types.Encryption{Autolock: true}},
			Cluster: &types.Cluster{ID: "cluster"}}, []string{"cluster unlock cluster @0 autolock=false"}},
		{"cluster update", store.Event{Action: up, OldCluster: &types.Cluster{ID: "cluster"},
			Cluster: &types.Cluster{ID: "cluster", Spec: types.ClusterSpec{TaskHistoryLimit: 3}}}, []string{"cluster update cluster @0 autolock=false"}},
		{"reset is no event", store.Event{Action: store.ActionReset}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, ev := range FromStore(tt.ev, names) {
				got = append(got, line(ev))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
