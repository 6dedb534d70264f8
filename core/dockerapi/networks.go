package dockerapi

import (
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/network"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// What every hive network is, in Docker's words: an overlay network of
// the swarm, made by a user (dockerd's "custom" type; hive has no
// predefined networks, and its ingress is not a network).
const (
	networkScope    = "swarm"
	networkIPAM     = "default"
	networkTypeUser = "custom"
	// vxlanOption is the driver option in which dockerd shows an overlay
	// network's VXLAN ID.
	vxlanOption = "com.docker.network.driver.overlay.vxlanid_list"
)

// networkRoutes registers the network endpoints.
func (s *Server) networkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /networks", s.listNetworks)
	mux.HandleFunc("GET /networks/{id}", s.inspectNetwork)
	mux.HandleFunc("POST /networks/create", s.createNetwork)
	mux.HandleFunc("DELETE /networks/{id}", s.removeNetwork)
	mux.HandleFunc("POST /networks/prune", s.pruneNetworks)
}

// networkToDocker is a hive network as dockerd shows a swarm network.
func networkToDocker(n *types.Network) network.Network {
	cfg := network.IPAMConfig{Subnet: n.Subnet, Gateway: n.Gateway}
	if n.IPRange != n.Subnet {
		cfg.IPRange = n.IPRange
	}
	opts := maps.Clone(n.Spec.Options)
	if opts == nil {
		opts = map[string]string{}
	}
	opts[vxlanOption] = strconv.FormatUint(uint64(n.VNI), 10)
	return network.Network{
		Name:       n.Spec.Name,
		ID:         n.ID,
		Created:    n.CreatedAt,
		Scope:      networkScope,
		Driver:     n.Spec.Driver,
		EnableIPv4: true,
		IPAM:       network.IPAM{Driver: networkIPAM, Config: []network.IPAMConfig{cfg}},
		Internal:   n.Spec.Internal,
		Attachable: n.Spec.Attachable,
		Options:    opts,
		Labels:     maps.Clone(n.Spec.Labels),
	}
}

// networkInspect is networkToDocker with what GET /networks/{id} adds:
// no containers (hive's tasks are not the engine's containers).
func networkInspect(n *types.Network) network.Inspect {
	return network.Inspect{Network: networkToDocker(n), Containers: map[string]network.EndpointResource{}}
}

// matchNetworkTerm matches a network's name or ID as dockerd does: a term
// equal to s, or a regular expression found in it (so "web" matches
// "myweb_default"); a term that is not a valid expression matches only
// itself.
func matchNetworkTerm(s string, terms []string) bool {
	return slices.ContainsFunc(terms, func(t string) bool {
		if t == s {
			return true
		}
		ok, err := regexp.MatchString(t, s)
		return err == nil && ok
	})
}

// networkMatches applies GET /networks's filters (parsed by
// parseFilters) to one network.
func networkMatches(n network.Network, f map[string][]string) bool {
	switch {
	case len(f["name"]) > 0 && !matchNetworkTerm(n.Name, f["name"]):
	case len(f["id"]) > 0 && !matchNetworkTerm(n.ID, f["id"]):
	case len(f["driver"]) > 0 && !slices.Contains(f["driver"], n.Driver):
	case len(f["scope"]) > 0 && !slices.Contains(f["scope"], n.Scope):
	case len(f["type"]) > 0 && !slices.Contains(f["type"], networkTypeUser):
	case !matchLabels(n.Labels, f["label"]):
	default:
		return true
	}
	return false
}

// listNetworks answers GET /networks with dockerd's filters name, id
// (terms found in them), driver, scope, type (custom or builtin) and
// label. Clients before API 1.28 get dockerd's older, inspect-shaped
// list.
func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r, "name", "id", "driver", "scope", "type", "label")
	if err != nil {
		writeError(w, err)
		return
	}
	for _, t := range f["type"] {
		if t != "custom" && t != "builtin" {
			writeError(w, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter: 'type'='%s'", t))
			return
		}
	}
	list, err := s.backend.ListNetworks(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	old := compareVersions(requestVersion(r), "1.28") < 0
	summaries, inspects := []network.Summary{}, []network.Inspect{}
	for _, n := range list {
		if d := networkToDocker(n); networkMatches(d, f) {
			summaries = append(summaries, network.Summary{Network: d})
			inspects = append(inspects, networkInspect(n))
		}
	}
	if old {
		writeJSON(w, http.StatusOK, inspects)
		return
	}
	writeJSON(w, http.StatusOK, summaries)
}

// inspectNetwork answers GET /networks/{id}: an ID, a name or a unique ID
// prefix. Every hive network is of scope swarm: a scope query asking for
// another finds none, as with dockerd. verbose is accepted and adds
// nothing (dockerd adds the services it sees on the node it runs on).
func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request) {
	if _, err := queryStrictBool(r, "verbose"); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	if sc := r.URL.Query().Get("scope"); sc != "" && sc != networkScope {
		writeError(w, errdefs.Newf(errdefs.ErrNotFound, "network %s not found in scope %s: hive's networks are of scope %s", id, sc, networkScope))
		return
	}
	n, err := s.backend.GetNetwork(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, networkInspect(n))
}

// networkCreateRequest is the body of POST /networks/create, with the
// CheckDuplicate that clients before API 1.44 send (always true there;
// hive refuses a name in use in any case).
type networkCreateRequest struct {
	network.CreateRequest
	CheckDuplicate *bool `json:",omitempty"`
}

// unsupportedNetworkField is the 400 for a create request's field that
// hive cannot honour.
func unsupportedNetworkField(field, why string) error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support %s: remove it; %s", field, why)
}

// networkSpecFromDocker translates a create request into hive's spec,
// refusing, by name, each field hive cannot honour. The spec's own rules
// (name, subnet, gateway, options: only the MTU) are the backend's to
// check.
func networkSpecFromDocker(req network.CreateRequest) (types.NetworkSpec, error) {
	spec := types.NetworkSpec{
		Name: req.Name, Driver: req.Driver, Internal: req.Internal, Attachable: req.Attachable,
		Labels: maps.Clone(req.Labels), Options: maps.Clone(req.Options),
	}
	switch {
	case req.Driver != "" && req.Driver != types.DriverOverlay:
		return spec, errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support Driver %q: use %s (or leave it empty)", req.Driver, types.DriverOverlay)
	case req.Scope != "" && req.Scope != networkScope:
		return spec, errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support Scope %q: its networks are of scope %s (or leave it empty)", req.Scope, networkScope)
	case req.Ingress:
		return spec, unsupportedNetworkField("Ingress", "hive's routing mesh is not a network and is always there")
	case req.EnableIPv6 != nil && *req.EnableIPv6:
		return spec, unsupportedNetworkField("EnableIPv6", "hive's networks are IPv4 only")
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return spec, unsupportedNetworkField("EnableIPv4: false", "hive's networks are IPv4")
	case req.ConfigOnly:
		return spec, unsupportedNetworkField("ConfigOnly", "hive has no config-only networks")
	case req.ConfigFrom != nil:
		return spec, unsupportedNetworkField("ConfigFrom", "hive has no config-only networks")
	}
	if ipam := req.IPAM; ipam != nil {
		switch {
		case ipam.Driver != "" && ipam.Driver != networkIPAM:
			return spec, errdefs.Newf(errdefs.ErrInvalidArgument, "hive does not support IPAM.Driver %q: use %s (or leave it empty)", ipam.Driver, networkIPAM)
		case len(ipam.Options) > 0:
			return spec, unsupportedNetworkField("IPAM.Options", "hive's address allocation takes none")
		case len(ipam.Config) > 1:
			return spec, unsupportedNetworkField("more than one IPAM.Config", "a hive network has one subnet")
		}
		if len(ipam.Config) == 1 {
			c := ipam.Config[0]
			if len(c.AuxAddress) > 0 {
				return spec, unsupportedNetworkField("IPAM.Config.AuxiliaryAddresses", "hive reserves only the gateway")
			}
			if c.Subnet.IsValid() {
				spec.Subnet = c.Subnet.String()
			}
			if c.IPRange.IsValid() {
				spec.IPRange = c.IPRange.String()
			}
			if c.Gateway.IsValid() {
				spec.Gateway = c.Gateway.String()
			}
		}
	}
	return spec, nil
}

// createNetwork answers POST /networks/create: 201 with the new ID; a name
// in use is the backend's 409.
func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var req networkCreateRequest
	if err := api.DecodeBody(w, r, "network create request", &req); err != nil {
		writeError(w, err)
		return
	}
	spec, err := networkSpecFromDocker(req.CreateRequest)
	if err != nil {
		writeError(w, err)
		return
	}
	n, err := s.backend.CreateNetwork(r.Context(), spec)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
}

// removeNetwork answers DELETE /networks/{id}: 204, or the backend's 409
// while services use it. dockerd removes a network whose tasks are still
// stopping at once (docker stack rm removes a stack's services, then its
// networks, straight away); hive keeps it until they stopped, so the
// request waits for them, up to networkStopWait.
func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := clock.WithTimeout(r.Context(), s.clock, networkStopWait)
	defer cancel()
	for {
		err := s.backend.RemoveNetwork(ctx, r.PathValue("id"))
		if err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !errors.Is(err, errdefs.ErrStillStopping) {
			writeError(w, err)
			return
		}
		select {
		case <-ctx.Done():
			writeError(w, err)
			return
		case <-s.clock.After(networkStopPoll):
		}
	}
}

// How long DELETE /networks/{id} waits for the tasks still attached to
// stop, and how often it tries again.
const (
	networkStopWait = time.Minute
	networkStopPoll = 200 * time.Millisecond
)

// pruneNetworks answers POST /networks/prune: it removes the networks no
// service uses and answers their names. Without filters it is the
// backend's prune, in one transaction; with dockerd's filters label,
// label! and until it removes the matching networks one by one, skipping
// those in use, as dockerd does.
func (s *Server) pruneNetworks(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r, "label", "label!", "until")
	if err != nil {
		writeError(w, err)
		return
	}
	var until time.Time
	switch v := f["until"]; {
	case len(v) > 1:
		err = errdefs.Newf(errdefs.ErrInvalidArgument, "more than one until filter specified")
	case len(v) == 1:
		until, err = parseUntil(v[0], s.clock.Now())
	}
	if err != nil {
		writeError(w, err)
		return
	}
	var removed []string
	if len(f) == 0 {
		removed, err = s.backend.PruneNetworks(r.Context())
	} else {
		removed, err = s.pruneMatching(r, f, until)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if removed == nil {
		removed = []string{}
	}
	writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: removed})
}

// pruneMatching removes the networks that match prune filters f and no
// service uses, and returns their names.
func (s *Server) pruneMatching(r *http.Request, f map[string][]string, until time.Time) ([]string, error) {
	list, err := s.backend.ListNetworks(r.Context())
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range list {
		labels := n.Spec.Labels
		switch {
		case !matchLabels(labels, f["label"]):
			continue
		case len(f["label!"]) > 0 && matchLabels(labels, f["label!"]):
			continue
		case !until.IsZero() && n.CreatedAt.After(until):
			continue
		}
		err := s.backend.RemoveNetwork(r.Context(), n.ID)
		switch {
		case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrNotFound):
			// In use, or removed meanwhile: not this prune's.
		case err != nil:
			return removed, err
		default:
			removed = append(removed, n.Spec.Name)
		}
	}
	return removed, nil
}

// parseUntil reads a prune's until filter as dockerd does: an RFC 3339
// time, a Unix time (SECONDS[.NANOSECONDS]), or a duration before now
// ("24h": networks created more than a day ago).
func parseUntil(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := parseUnixTimestamp(v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid until filter %q: give a time, as 2025-01-02T15:04:05Z, Unix seconds or a duration before now, as 24h", v)
}
