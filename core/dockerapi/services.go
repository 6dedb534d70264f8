package dockerapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// serviceRoutes registers the service and task endpoints.
func (s *Server) serviceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /services", s.listServices)
	mux.HandleFunc("GET /services/{id}", s.inspectService)
	mux.HandleFunc("POST /services/create", s.createService)
	mux.HandleFunc("POST /services/{id}/update", s.updateService)
	mux.HandleFunc("DELETE /services/{id}", s.removeService)
	mux.HandleFunc("GET /services/{id}/logs", s.serviceLogs)
	mux.HandleFunc("GET /tasks", s.listTasks)
	mux.HandleFunc("GET /tasks/{id}", s.inspectTask)
	mux.HandleFunc("GET /tasks/{id}/logs", s.taskLogs)
}

// listServices answers GET /services with dockerd's filters (id and name
// prefixes, label, mode, runtime) and, from API 1.41, status=true adding
// each service's task counts.
func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r, "id", "name", "label", "mode", "runtime")
	if err != nil {
		writeError(w, err)
		return
	}
	status := false
	if compareVersions(requestVersion(r), "1.41") >= 0 {
		if status, err = queryStrictBool(r, "status"); err != nil {
			writeError(w, err)
			return
		}
	}
	sums, err := s.backend.ListServices(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := []swarm.Service{}
	for _, sum := range sums {
		if !serviceMatches(sum.Service, f) {
			continue
		}
		svc := serviceToDocker(sum.Service)
		if status {
			svc.ServiceStatus = &swarm.ServiceStatus{RunningTasks: sum.RunningTasks, DesiredTasks: sum.DesiredTasks}
		}
		out = append(out, svc)
	}
	writeJSON(w, http.StatusOK, out)
}

// serviceMatches reports whether svc passes every filter term.
func serviceMatches(svc *types.Service, f map[string][]string) bool {
	if v := f["id"]; len(v) > 0 && !matchPrefix(svc.ID, v) {
		return false
	}
	if v := f["name"]; len(v) > 0 && !matchPrefix(svc.Spec.Name, v) {
		return false
	}
	if v := f["mode"]; len(v) > 0 && !slices.Contains(v, string(svc.Spec.Mode)) {
		return false
	}
	if v := f["runtime"]; len(v) > 0 && !slices.Contains(v, string(swarm.RuntimeContainer)) {
		return false
	}
	return matchLabels(svc.Spec.Labels, f["label"])
}

// inspectService answers GET /services/{id}: an ID, a unique ID prefix or
// a name. insertDefaults is accepted; hive stores its specs with the
// defaults already filled in.
func (s *Server) inspectService(w http.ResponseWriter, r *http.Request) {
	if _, err := queryStrictBool(r, "insertDefaults"); err != nil {
		writeError(w, err)
		return
	}
	svc, err := s.backend.GetService(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, serviceToDocker(svc))
}

// serviceRequest is the body of a create or update: a spec, with the
// ServiceSpec.Networks that clients before API 1.44 may send.
type serviceRequest struct {
	swarm.ServiceSpec
	Networks []swarm.NetworkAttachmentConfig `json:",omitempty"`
}

// readServiceSpec reads a create or update request: the body decoded into
// hive's spec, with the registry credential of X-Registry-Auth, if any.
func readServiceSpec(w http.ResponseWriter, r *http.Request) (types.ServiceSpec, error) {
	auth, err := registryAuthOf(r)
	if err != nil {
		return types.ServiceSpec{}, err
	}
	var req serviceRequest
	if err := api.DecodeBody(w, r, "service spec", &req); err != nil {
		return types.ServiceSpec{}, err
	}
	if len(req.Networks) > 0 {
		if compareVersions(requestVersion(r), "1.44") >= 0 || len(req.TaskTemplate.Networks) > 0 {
			return types.ServiceSpec{}, unsupportedSpecField("Spec.Networks (deprecated: use Spec.TaskTemplate.Networks)")
		}
		req.TaskTemplate.Networks = req.Networks
	}
	spec, err := serviceSpecFromDocker(req.ServiceSpec)
	spec.RegistryAuth = auth
	return spec, err
}

// registryAuthOf decodes the registry credential of X-Registry-Auth (the
// docker CLI's --with-registry-auth): nil when the header is absent or
// carries none (an empty one, or only a server address). The credential
// goes to the managers, which seal it and hand it to the nodes that pull
// the service's image.
func registryAuthOf(r *http.Request) (*types.RegistryAuth, error) {
	v := r.Header.Get(registry.AuthHeader)
	if v == "" {
		return nil, nil
	}
	ac, err := authconfig.Decode(v)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s header: want base64url-encoded JSON registry credentials", registry.AuthHeader)
	}
	if ac.RegistryToken != "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s carries a registry bearer token (registrytoken), which expires: hive keeps credentials for later pulls, so send a username with a password or an identity token", registry.AuthHeader)
	}
	if ac.Auth != "" && ac.Username == "" && ac.Password == "" {
		raw, err := base64.StdEncoding.DecodeString(ac.Auth)
		user, pass, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s header: its auth field is not base64 of USER:PASSWORD", registry.AuthHeader)
		}
		ac.Username, ac.Password = user, pass
	}
	if ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" {
		return nil, nil
	}
	return &types.RegistryAuth{ServerAddress: ac.ServerAddress, Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken}, nil
}

// createService answers POST /services/create with 201 and the new ID.
func (s *Server) createService(w http.ResponseWriter, r *http.Request) {
	spec, err := readServiceSpec(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	svc, err := s.backend.CreateService(r.Context(), spec)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, swarm.ServiceCreateResponse{ID: svc.ID})
}

// updateService answers POST /services/{id}/update?version=N. With
// rollback=previous it puts the service back on its previous spec (the
// body is then not used, as dockerd does not use it); else it replaces
// the spec, keeping what Docker cannot express (DependsOn) from the
// stored one.
func (s *Server) updateService(w http.ResponseWriter, r *http.Request) {
	version, err := queryVersion(r, "service")
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	if v := q.Get("registryAuthFrom"); v != "" {
		switch swarm.RegistryAuthSource(v) {
		case swarm.RegistryAuthFromSpec, swarm.RegistryAuthFromPreviousSpec:
		default:
			writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid registryAuthFrom '%s'", v))
			return
		}
	}
	rollback := q.Get("rollback")
	if rollback != "" && rollback != "previous" {
		writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "unrecognized rollback option %s", rollback))
		return
	}
	spec, err := readServiceSpec(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	cur, err := s.backend.GetService(ctx, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if rollback == "previous" {
		// RollbackService takes no version: check it here, so that a
		// rollback based on a stale read is refused as an update is.
		if cur.Version != version {
			writeError(w, fmt.Errorf("%w: service %s changed since it was read (version %d, now %d): read it again and retry", errdefs.ErrVersionConflict, cur.Spec.Name, version, cur.Version))
			return
		}
		if _, err := s.backend.RollbackService(ctx, cur.ID); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, swarm.ServiceUpdateResponse{})
		return
	}
	spec.DependsOn = cur.Spec.DependsOn
	if _, err := s.backend.UpdateService(ctx, cur.ID, version, spec); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, swarm.ServiceUpdateResponse{})
}

// removeService answers DELETE /services/{id} with 200, as dockerd does.
func (s *Server) removeService(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveService(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
