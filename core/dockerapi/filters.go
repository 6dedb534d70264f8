package dockerapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/hiveorch/hive/core/errdefs"
)

// parseFilters reads a list request's `filters` query parameter, JSON in
// either of the forms dockerd accepts: the current {"name":{"web":true}}
// or the legacy {"name":["web"]}. It returns each term's values, sorted,
// and refuses a term not in allowed with dockerd's 400 "invalid filter
// 'KEY'". An absent or empty parameter gives an empty map.
func parseFilters(r *http.Request, allowed ...string) (map[string][]string, error) {
	raw := r.URL.Query().Get("filters")
	out := map[string][]string{}
	if raw == "" || raw == "{}" {
		return out, nil
	}
	var terms map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &terms); err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter: %v", err)
	}
	for key, v := range terms {
		if !slices.Contains(allowed, key) {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter '%s'", key)
		}
		var set map[string]bool
		if err := json.Unmarshal(v, &set); err == nil {
			for val, on := range set {
				if on {
					out[key] = append(out[key], val)
				}
			}
		} else {
			var list []string
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter '%s': want {\"value\":true,...} or [\"value\",...]", key)
			}
			out[key] = append(out[key], list...)
		}
		sort.Strings(out[key])
	}
	return out, nil
}

// matchPrefix reports whether s starts with one of prefixes, as dockerd
// matches the id and name filters.
func matchPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

// matchLabels reports whether labels hold every one of terms, each "KEY"
// (present) or "KEY=VALUE", as swarmkit matches label filters.
func matchLabels(labels map[string]string, terms []string) bool {
	for _, t := range terms {
		k, v, hasValue := strings.Cut(t, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}
