package stack

import (
	"encoding/json"
	"time"

	"github.com/hiveorch/hive/core/types"
)

func parseTestDuration(s string) (types.Duration, error) {
	d, err := time.ParseDuration(s)
	return types.Duration(d), err
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func equalJSON(a, b any) bool { return toJSON(a) == toJSON(b) }

func names(specs []types.ServiceSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}

func netNames(specs []types.NetworkSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}

func secretNames(objs []SecretObject) []string {
	var out []string
	for _, s := range objs {
		out = append(out, s.Spec.Name)
	}
	return out
}

func configNames(objs []ConfigObject) []string {
	var out []string
	for _, s := range objs {
		out = append(out, s.Spec.Name)
	}
	return out
}
