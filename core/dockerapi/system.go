package dockerapi

import (
	"maps"
	"net/http"
	"runtime"
	"slices"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/core/version"
)

func hiveVersion() string { return version.Version }

// ping answers GET and HEAD /_ping as dockerd does, with the headers a
// client negotiates from: the API version, the OS, and the node's swarm
// role ("active/manager" or "active/worker").
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Ostype", "linux")
	h.Set("Docker-Experimental", "false")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	if info, err := s.backend.Info(r.Context()); err == nil {
		h.Set("Swarm", "active/"+info.Role)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

// version answers GET /version: hive's version, as the one component.
func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	v := hiveVersion()
	writeJSON(w, http.StatusOK, system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "hive " + v},
		Version:       v,
		APIVersion:    APIVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		Components:    []system.ComponentVersion{{Name: "hive", Version: v, Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion}}},
	})
}

// info answers GET /info: the node serving the request and, under Swarm,
// the cluster, as a swarm-mode dockerd reports them (LocalNodeState
// active; ControlAvailable on a manager).
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	in, err := s.backend.Info(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	self, err := s.backend.GetNode(ctx, "self")
	if err != nil {
		writeError(w, err)
		return
	}
	out := system.Info{
		ID:                in.NodeID,
		Name:              in.Hostname,
		ServerVersion:     in.Version,
		Driver:            "hive",
		OSType:            "linux",
		OperatingSystem:   "hive " + in.Version,
		Architecture:      self.Description.Platform.Architecture,
		NCPU:              int(self.Description.Resources.NanoCPUs / 1e9),
		MemTotal:          self.Description.Resources.MemoryBytes,
		DockerRootDir:     in.DataDir,
		Containers:        in.Tasks,
		ContainersRunning: in.TasksRunning,
		ContainersStopped: in.Tasks - in.TasksRunning,
		DefaultRuntime:    in.Runtime,
		Labels:            nodeLabelList(self.Spec.Labels),
		Swarm: swarm.Info{
			NodeID:           in.NodeID,
			NodeAddr:         self.Description.DataPath.Addr,
			LocalNodeState:   swarm.LocalNodeStateActive,
			ControlAvailable: in.Role == string(types.RoleManager),
			Nodes:            in.Nodes,
			Managers:         in.Managers,
		},
	}
	if in.Locked {
		out.Swarm.LocalNodeState = swarm.LocalNodeStateLocked
	}
	if in.Role == string(types.RoleManager) {
		nodes, err := s.backend.ListNodes(ctx)
		if err != nil {
			writeError(w, err)
			return
		}
		for _, n := range nodes {
			if n.ManagerStatus != nil {
				out.Swarm.RemoteManagers = append(out.Swarm.RemoteManagers, swarm.Peer{NodeID: n.ID, Addr: n.ManagerStatus.Addr})
			}
		}
		out.Swarm.Cluster = &swarm.ClusterInfo{
			ID:   in.ClusterID,
			Spec: clusterSpec(in),
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// nodeLabelList is a node's labels as dockerd's Info lists engine labels.
func nodeLabelList(labels map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, k+"="+labels[k])
	}
	return out
}
