package dockerapi

import (
	"bytes"
	"maps"
	"net/http"
	"slices"

	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// secretRoutes registers the secret and config endpoints.
func (s *Server) secretRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /secrets", s.listSecrets)
	mux.HandleFunc("POST /secrets/create", s.createSecret)
	mux.HandleFunc("GET /secrets/{id}", s.inspectSecret)
	mux.HandleFunc("POST /secrets/{id}/update", s.updateSecret)
	mux.HandleFunc("DELETE /secrets/{id}", s.removeSecret)
	mux.HandleFunc("GET /configs", s.listConfigs)
	mux.HandleFunc("POST /configs/create", s.createConfig)
	mux.HandleFunc("GET /configs/{id}", s.inspectConfig)
	mux.HandleFunc("POST /configs/{id}/update", s.updateConfig)
	mux.HandleFunc("DELETE /configs/{id}", s.removeConfig)
}

// secretToDocker is a secret as dockerd shows it: never its value.
func secretToDocker(sec *types.Secret) swarm.Secret {
	out := swarm.Secret{
		ID:   sec.ID,
		Meta: metaToDocker(sec.Meta),
		Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: sec.Spec.Name, Labels: maps.Clone(sec.Spec.Labels)}},
	}
	if d := sec.Spec.Driver; d != nil {
		out.Spec.Driver = &swarm.Driver{Name: d.Name, Options: maps.Clone(d.Options)}
	}
	return out
}

// configToDocker is a config as dockerd shows it, with its data.
func configToDocker(c *types.Config) swarm.Config {
	return swarm.Config{
		ID:   c.ID,
		Meta: metaToDocker(c.Meta),
		Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: c.Spec.Name, Labels: maps.Clone(c.Spec.Labels)}, Data: bytes.Clone(c.Data)},
	}
}

// storedMatches applies dockerd's secret and config filters to one
// object: names (exact), name and id (prefixes), label (all of them).
func storedMatches(id, name string, labels map[string]string, f map[string][]string) bool {
	if v := f["names"]; len(v) > 0 && !slices.Contains(v, name) {
		return false
	}
	if v := f["name"]; len(v) > 0 && !matchPrefix(name, v) {
		return false
	}
	if v := f["id"]; len(v) > 0 && !matchPrefix(id, v) {
		return false
	}
	return matchLabels(labels, f["label"])
}

// refuseTemplating refuses Spec.Templating, which hive does not have.
func refuseTemplating(t *swarm.Driver) error {
	if t != nil {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support Spec.Templating: remove it; hive passes values as they are")
	}
	return nil
}

// sameLabels compares label sets, nil being the empty set.
func sameLabels(a, b map[string]string) bool {
	return maps.Equal(a, b)
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r, "names", "name", "id", "label")
	if err != nil {
		writeError(w, err)
		return
	}
	secrets, err := s.backend.ListSecrets(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := []swarm.Secret{}
	for _, sec := range secrets {
		if storedMatches(sec.ID, sec.Spec.Name, sec.Spec.Labels, f) {
			out = append(out, secretToDocker(sec))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// createSecret answers POST /secrets/create: 201 with the new ID. The
// value (Spec.Data) goes to the backend as a SecretValue and is never
// logged nor returned; a secret with a Driver takes none.
func (s *Server) createSecret(w http.ResponseWriter, r *http.Request) {
	var spec swarm.SecretSpec
	if err := api.DecodeBody(w, r, "secret spec", &spec); err != nil {
		writeError(w, err)
		return
	}
	if err := refuseTemplating(spec.Templating); err != nil {
		writeError(w, err)
		return
	}
	hs := types.SecretSpec{Name: spec.Name, Labels: maps.Clone(spec.Labels)}
	if d := spec.Driver; d != nil {
		hs.Driver = &types.Driver{Name: d.Name, Options: maps.Clone(d.Options)}
	}
	sec, err := s.backend.CreateSecret(r.Context(), hs, types.NewSecretValue(spec.Data))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, swarm.SecretCreateResponse{ID: sec.ID})
}

// inspectSecret answers GET /secrets/{id}: an ID, a name or a unique ID
// prefix.
func (s *Server) inspectSecret(w http.ResponseWriter, r *http.Request) {
	sec, err := s.backend.GetSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, secretToDocker(sec))
}

// updateSecret answers POST /secrets/{id}/update?version=N. dockerd
// changes only a secret's labels there; hive keeps a secret's labels as
// created and changes its value instead ('hive secret update'), which the
// Docker API cannot express (a secret's Data never comes back to compare
// with). So only an update that changes nothing is accepted, as a no-op;
// a stale version is a version conflict (409).
func (s *Server) updateSecret(w http.ResponseWriter, r *http.Request) {
	var spec swarm.SecretSpec
	version, err := readUpdate(w, r, "secret", &spec)
	if err != nil {
		writeError(w, err)
		return
	}
	sec, err := s.backend.GetSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	name := sec.Spec.Name
	cur := secretToDocker(sec).Spec
	switch {
	case sec.Version != version:
		err = errdefs.Newf(errdefs.ErrVersionConflict, "secret %s changed since it was read (version %d, now %d): read it again and retry", name, version, sec.Version)
	case spec.Templating != nil:
		err = refuseTemplating(spec.Templating)
	case spec.Name != name:
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "hive cannot change a secret's Spec.Name (%q to %q): create a new secret instead", name, spec.Name)
	case len(spec.Data) > 0:
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not change a secret's value (Spec.Data) through the Docker API (dockerd does not either): rotate it with 'hive secret update %s FILE', which rolls the services that use it", name)
	case !sameSecretDriver(spec.Driver, cur.Driver):
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "hive cannot change a secret's Spec.Driver: create a new secret with the driver instead")
	case !sameLabels(spec.Labels, cur.Labels):
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "hive cannot change a secret's Spec.Labels: they are set when it is created; create a new secret with the labels (hive changes a secret's value instead, with 'hive secret update %s FILE')", name)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// sameSecretDriver compares two secret drivers, options nil being
// empty.
func sameSecretDriver(a, b *swarm.Driver) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name && sameLabels(a.Options, b.Options)
}

// removeSecret answers DELETE /secrets/{id}: 204, or the backend's 409
// while services use it.
func (s *Server) removeSecret(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveSecret(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listConfigs answers GET /configs with dockerd's config filters: name
// and id prefixes and label (dockerd has no "names" filter for configs).
func (s *Server) listConfigs(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r, "name", "id", "label")
	if err != nil {
		writeError(w, err)
		return
	}
	configs, err := s.backend.ListConfigs(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := []swarm.Config{}
	for _, c := range configs {
		if storedMatches(c.ID, c.Spec.Name, c.Spec.Labels, f) {
			out = append(out, configToDocker(c))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// createConfig answers POST /configs/create: 201 with the new ID.
func (s *Server) createConfig(w http.ResponseWriter, r *http.Request) {
	var spec swarm.ConfigSpec
	if err := api.DecodeBody(w, r, "config spec", &spec); err != nil {
		writeError(w, err)
		return
	}
	if err := refuseTemplating(spec.Templating); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.backend.CreateConfig(r.Context(), types.ConfigSpec{Name: spec.Name, Labels: maps.Clone(spec.Labels)}, spec.Data)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, swarm.ConfigCreateResponse{ID: c.ID})
}

// inspectConfig answers GET /configs/{id}: an ID, a name or a unique ID
// prefix.
func (s *Server) inspectConfig(w http.ResponseWriter, r *http.Request) {
	c, err := s.backend.GetConfig(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, configToDocker(c))
}

// updateConfig answers POST /configs/{id}/update?version=N. As for
// secrets, dockerd changes only labels there and hive keeps them as
// created: an update identical to the config (data included) is a no-op,
// anything else is refused naming the field.
func (s *Server) updateConfig(w http.ResponseWriter, r *http.Request) {
	var spec swarm.ConfigSpec
	version, err := readUpdate(w, r, "config", &spec)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := s.backend.GetConfig(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	name := c.Spec.Name
	switch {
	case c.Version != version:
		err = errdefs.Newf(errdefs.ErrVersionConflict, "config %s changed since it was read (version %d, now %d): read it again and retry", name, version, c.Version)
	case spec.Templating != nil:
		err = refuseTemplating(spec.Templating)
	case spec.Name != name:
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "hive cannot change a config's Spec.Name (%q to %q): create a new config instead", name, spec.Name)
	case !bytes.Equal(spec.Data, c.Data):
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not change a config's Spec.Data through the Docker API (dockerd does not either): change it with 'hive config update %s FILE', which rolls the services that use it", name)
	case !sameLabels(spec.Labels, c.Spec.Labels):
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "hive cannot change a config's Spec.Labels: they are set when it is created; create a new config with the labels (hive changes a config's data instead, with 'hive config update %s FILE')", name)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// removeConfig answers DELETE /configs/{id}: 204, or the backend's 409
// while services use it.
func (s *Server) removeConfig(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.RemoveConfig(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
