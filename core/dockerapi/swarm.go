package dockerapi

import (
	"fmt"
	"net/http"
	"reflect"

	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// swarmRoutes registers /swarm. hive's cluster is made and joined with
// hive's own commands, so /swarm/init and /swarm/join are refused;
// /swarm/leave, /swarm/unlock, /swarm/unlockkey and the settings and
// rotations /swarm/update can express map onto the backend.
func (s *Server) swarmRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /swarm", s.inspectSwarm)
	mux.HandleFunc("GET /swarm/unlockkey", s.swarmUnlockKey)
	mux.HandleFunc("POST /swarm/unlock", s.unlockSwarm)
	mux.HandleFunc("POST /swarm/update", s.updateSwarm)
	mux.HandleFunc("POST /swarm/leave", s.leaveSwarm)
	mux.HandleFunc("POST /swarm/init", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errdefs.Newf(errdefs.ErrUnavailable, "this node is already part of a hive cluster: hive does not create clusters through the Docker API; start a new cluster with 'hive up' on another host"))
	})
	mux.HandleFunc("POST /swarm/join", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errdefs.Newf(errdefs.ErrUnavailable, "this node is already part of a hive cluster: hive does not join clusters through the Docker API; run 'hive join --token TOKEN MANAGER_ADDR:PORT' on the host to join (after 'hive leave' to leave this one)"))
	})
}

// clusterSpec is the swarm spec hive can state: the name "default" and
// autolock. hive has none of swarm's other settings (Raft, dispatcher,
// CA, orchestration, task defaults).
func clusterSpec(in *api.Info) swarm.Spec {
	return swarm.Spec{
		Annotations:      swarm.Annotations{Name: "default"},
		EncryptionConfig: swarm.EncryptionConfig{AutoLockManagers: in.Autolock},
	}
}

// inspectSwarm answers GET /swarm: the cluster's ID, its spec, and the
// join tokens (managers only, as in dockerd).
func (s *Server) inspectSwarm(w http.ResponseWriter, r *http.Request) {
	in, err := s.backend.Info(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	tokens, err := s.backend.JoinTokens(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, swarm.Swarm{
		ClusterInfo: swarm.ClusterInfo{ID: in.ClusterID, Meta: swarm.Meta{Version: swarm.Version{Index: in.ClusterVersion}}, Spec: clusterSpec(in)},
		JoinTokens:  swarm.JoinTokens{Worker: tokens.Worker, Manager: tokens.Manager},
	})
}

// swarmUnlockKey answers GET /swarm/unlockkey: the unlock key, or an
// empty one when autolock is off, as dockerd answers.
func (s *Server) swarmUnlockKey(w http.ResponseWriter, r *http.Request) {
	in, err := s.backend.Info(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	var out swarm.UnlockKeyResponse
	if in.Autolock {
		k, err := s.backend.UnlockKey(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		out.UnlockKey = k.Key
	}
	writeJSON(w, http.StatusOK, out)
}

// unlockSwarm answers POST /swarm/unlock: the key goes to the backend's
// Unlock (a wrong key is 403, the manager stays locked).
func (s *Server) unlockSwarm(w http.ResponseWriter, r *http.Request) {
	var req swarm.UnlockRequest
	if err := api.DecodeBody(w, r, "unlock request", &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.backend.Unlock(r.Context(), req.UnlockKey); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// leaveSwarm answers POST /swarm/leave?force=bool with the backend's
// Leave: the answering node leaves the cluster and its daemon stops.
func (s *Server) leaveSwarm(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.Leave(r.Context(), queryBool(r, "force")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// updateSwarm answers POST /swarm/update?version=N: a change of
// Spec.EncryptionConfig.AutoLockManagers is the backend's SetAutolock, and
// rotateWorkerToken, rotateManagerToken and rotateManagerUnlockKey are its
// rotations. Any other change to the spec is refused, naming the field.
// The version must be the one GET /swarm answered (the version of the
// cluster's settings), as dockerd requires: a change made since is a 409
// (the check comes before the change, not in the same transaction).
func (s *Server) updateSwarm(w http.ResponseWriter, r *http.Request) {
	version, err := queryVersion(r, "swarm")
	if err != nil {
		writeError(w, err)
		return
	}
	var rotate [3]bool
	for i, name := range []string{"rotateWorkerToken", "rotateManagerToken", "rotateManagerUnlockKey"} {
		var err error
		if rotate[i], err = queryStrictBool(r, name); err != nil {
			writeError(w, err)
			return
		}
	}
	var spec swarm.Spec
	if err := api.DecodeBody(w, r, "swarm spec", &spec); err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	in, err := s.backend.Info(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	if version != in.ClusterVersion {
		writeError(w, fmt.Errorf("%w: update out of sequence: the swarm's settings changed since they were read (version %d, now %d): inspect the swarm again and retry", errdefs.ErrVersionConflict, version, in.ClusterVersion))
		return
	}
	if err := checkClusterSpec(spec); err != nil {
		writeError(w, err)
		return
	}
	if on := spec.EncryptionConfig.AutoLockManagers; on != in.Autolock {
		if _, err := s.backend.SetAutolock(ctx, on); err != nil {
			writeError(w, err)
			return
		}
	}
	for i, role := range []types.NodeRole{types.RoleWorker, types.RoleManager} {
		if rotate[i] {
			if _, err := s.backend.RotateJoinToken(ctx, role); err != nil {
				writeError(w, err)
				return
			}
		}
	}
	if rotate[2] {
		if _, err := s.backend.RotateUnlockKey(ctx); err != nil {
			writeError(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// checkClusterSpec refuses a swarm spec that sets what hive does not
// have: anything but the name "default" and autolock.
func checkClusterSpec(spec swarm.Spec) error {
	if spec.Name != "" && spec.Name != "default" {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support Spec.Name %q: a hive cluster is named \"default\"", spec.Name)
	}
	if len(spec.Labels) > 0 {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support Spec.Labels on the cluster: remove them")
	}
	for _, f := range []struct {
		name string
		v    any
	}{
		{"Orchestration", spec.Orchestration},
		{"Raft", spec.Raft},
		{"Dispatcher", spec.Dispatcher},
		{"CAConfig", spec.CAConfig},
		{"TaskDefaults", spec.TaskDefaults},
	} {
		if !reflect.ValueOf(f.v).IsZero() {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support Spec.%s: remove it; of the cluster's settings hive has only autolock ('hive cluster update --autolock')", f.name)
		}
	}
	return nil
}
