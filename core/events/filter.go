package events

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hiveorch/hive/core/errdefs"
)

// FilterKeys are the keys a filter may use.
var FilterKeys = []string{"type", "service", "node", "event", "task", "name"}

// Filter picks events: KEY → accepted values. Values of one key are ORed,
// keys are ANDed, as in docker events. The zero Filter picks every event.
type Filter map[string][]string

// ParseFilter parses KEY=VALUE terms (the repeated filter query parameter,
// hive events --filter). A bad term is an invalid-argument error that says
// what is allowed.
func ParseFilter(terms []string) (Filter, error) {
	f := Filter{}
	for _, term := range terms {
		key, value, ok := strings.Cut(term, "=")
		key = strings.TrimSpace(key)
		if !ok || value == "" {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter %q: want KEY=VALUE, KEY one of %s", term, strings.Join(FilterKeys, ", "))
		}
		if !slices.Contains(FilterKeys, key) {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter %q: unknown key %q, want one of %s", term, key, strings.Join(FilterKeys, ", "))
		}
		if key == "type" && !slices.Contains(Types, value) {
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter %q: unknown type %q, want one of %s", term, value, strings.Join(Types, ", "))
		}
		f[key] = append(f[key], value)
	}
	return f, nil
}

// Terms returns the filter as KEY=VALUE terms, sorted: ParseFilter's
// input.
func (f Filter) Terms() []string {
	var out []string
	for k, vs := range f {
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%s=%s", k, v))
		}
	}
	sort.Strings(out)
	return out
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev Event) bool {
	for key, values := range f {
		if !slices.ContainsFunc(values, func(v string) bool { return matchOne(ev, key, v) }) {
			return false
		}
	}
	return true
}

// matchOne: does ev match KEY=v? service, node and task match the object
// itself (by ID or name) or, for a task, the service and node it belongs
// to.
func matchOne(ev Event, key, v string) bool {
	a := ev.Actor.Attributes
	self := ev.Actor.ID == v || a["name"] == v
	switch key {
	case "type":
		return ev.Type == v
	case "event":
		return ev.Action == v
	case "name":
		return a["name"] == v
	case "service":
		return (ev.Type == TypeService && self) || a["service"] == v || a["service_id"] == v
	case "node":
		return (ev.Type == TypeNode && self) || a["node"] == v || a["node_id"] == v
	case "task":
		return ev.Type == TypeTask && self
	}
	return false
}
