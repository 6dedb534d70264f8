package dockerapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
)

// queryVersion reads the version query parameter of an update of kind
// (node, secret, service, swarm, ...), with dockerd's message when it is
// missing or bad.
func queryVersion(r *http.Request, kind string) (uint64, error) {
	raw := r.URL.Query().Get("version")
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s version '%s': %v", kind, raw, err)
	}
	return v, nil
}

// readUpdate reads an update request of kind (node, secret, config):
// the version query parameter, then the JSON body into spec.
func readUpdate(w http.ResponseWriter, r *http.Request, kind string, spec any) (uint64, error) {
	version, err := queryVersion(r, kind)
	if err != nil {
		return 0, err
	}
	return version, api.DecodeBody(w, r, kind+" spec", spec)
}

// queryBool reads a boolean query parameter as dockerd reads most of
// them: absent, "", "0", "no", "false" and "none" are false, anything else
// true.
func queryBool(r *http.Request, name string) bool {
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(name))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// queryStrictBool reads a boolean query parameter that dockerd parses
// with strconv.ParseBool: absent is false, a value ParseBool refuses is a
// 400.
func queryStrictBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid value for %s: %s", name, v)
	}
	return b, nil
}
