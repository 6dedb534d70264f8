package commands

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/suggest"
)

// parseGrant reads a --secret or --config value (flag names the flag
// given, kind "secret" or "config"): NAME,
// or source=NAME,target=PATH,uid=U,gid=G,mode=0400. Fields left out get
// the cluster's defaults (target: the name, or /NAME for a config; owner
// 0:0; mode 0444).
func parseGrant(flag, kind, value string) (string, types.FileTarget, error) {
	var f types.FileTarget
	bad := func(format string, args ...any) (string, types.FileTarget, error) {
		return "", types.FileTarget{}, fmt.Errorf("invalid %s %q: %s", flag, value, fmt.Sprintf(format, args...))
	}
	if value == "" {
		return bad("give a name, or source=NAME,target=PATH")
	}
	if !strings.ContainsAny(value, "=,") {
		return value, f, nil
	}
	fields, err := csvFields(value)
	if err != nil {
		return bad("%v", err)
	}
	var source string
	known := []string{"source", "src", "target", "uid", "gid", "mode"}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || val == "" {
			return bad("field %q has no value: write KEY=VALUE, as in source=NAME", field)
		}
		switch key {
		case "source", "src":
			source = val
		case "target":
			f.Name = val
		case "uid":
			f.UID = val
		case "gid":
			f.GID = val
		case "mode":
			m, err := strconv.ParseUint(val, 8, 32)
			if err != nil || m > 0o777 {
				return bad("mode=%s: give permission bits in octal, from 0000 to 0777, as in mode=0400", val)
			}
			f.Mode = fs.FileMode(m)
		default:
			return bad("unknown field %q%s (known: source/src, target, uid, gid, mode)", key, suggest.DidYouMean(key, known...))
		}
	}
	if source == "" {
		return bad("name the %s with source=NAME", kind)
	}
	for _, id := range []struct{ k, v string }{{"uid", f.UID}, {"gid", f.GID}} {
		if id.v == "" {
			continue
		}
		if _, err := strconv.ParseUint(id.v, 10, 32); err != nil {
			return bad("%s=%s: give a numeric ID, as in %s=1000", id.k, id.v, id.k)
		}
	}
	return source, f, nil
}

// parseSecretRef reads a --secret value.
func parseSecretRef(flag, value string) (types.SecretReference, error) {
	src, f, err := parseGrant(flag, "secret", value)
	if err != nil {
		return types.SecretReference{}, err
	}
	if err := types.ValidateSecretName(src); err != nil {
		return types.SecretReference{}, fmt.Errorf("invalid %s %q: %w", flag, value, err)
	}
	return types.SecretReference{SecretName: src, File: f}, nil
}

// parseConfigRef reads a --config value.
func parseConfigRef(flag, value string) (types.ConfigReference, error) {
	src, f, err := parseGrant(flag, "config", value)
	if err != nil {
		return types.ConfigReference{}, err
	}
	if err := types.ValidateConfigName(src); err != nil {
		return types.ConfigReference{}, fmt.Errorf("invalid %s %q: %w", flag, value, err)
	}
	return types.ConfigReference{ConfigName: src, File: f}, nil
}
