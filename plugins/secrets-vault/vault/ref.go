package vault

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

// Option names of a secret's driver options.
const (
	optPath    = "path"
	optVersion = "version"
)

// pathSyntax is what an error about the path option shows.
const pathSyntax = "path=MOUNT/data/SECRET#FIELD (the KV v2 API path, as secret/data/app#password) or path=MOUNT/SECRET#FIELD (as secret/app#password)"

// kvRef is a parsed secret reference: what to read and which field.
type kvRef struct {
	mount   string // "secret"
	secret  string // "app/db", inside the mount
	field   string // "password"
	version int    // 0: the latest
}

// apiPath is the KV v2 read path: MOUNT/data/SECRET.
func (r kvRef) apiPath() string { return r.mount + "/data/" + r.secret }

// String is the reference as the errors show it: MOUNT/data/SECRET#FIELD,
// with @VERSION when pinned.
func (r kvRef) String() string {
	s := r.apiPath() + "#" + r.field
	if r.version > 0 {
		s += "@v" + strconv.Itoa(r.version)
	}
	return s
}

// parseRef parses a secret's driver options. mounts are the configured
// KV v2 mounts, longest first.
func parseRef(ref secrets.Ref, mounts []string) (kvRef, error) {
	bad := func(format string, args ...any) (kvRef, error) {
		what := "secret"
		if ref.Secret != "" {
			what = "secret " + ref.Secret
		}
		return kvRef{}, fmt.Errorf("%s: %s: %w", what, fmt.Sprintf(format, args...), sdk.ErrInvalidArgument)
	}
	for k := range ref.Options {
		if k != optPath && k != optVersion {
			return bad("unknown driver option %q: the vault driver takes %s, and optionally version=N", k, pathSyntax)
		}
	}
	raw, ok := ref.Options[optPath]
	if !ok || strings.TrimSpace(raw) == "" {
		return bad("driver option path is required: %s", pathSyntax)
	}
	raw = strings.TrimSpace(raw)

	var r kvRef
	if v, ok := ref.Options[optVersion]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return bad("driver option version=%q: want a version number, 1 or more", v)
		}
		r.version = n
	}

	p, field, ok := cutLast(raw, "#")
	if !ok || strings.TrimSpace(field) == "" {
		return bad("path %q names no field: add #FIELD, as in %s", raw, pathSyntax)
	}
	r.field = strings.TrimSpace(field)
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return bad("path %q: no leading or trailing '/': %s", raw, pathSyntax)
	}
	if err := checkSegments(p); err != nil {
		return bad("path %q: %v: %s", raw, err, pathSyntax)
	}

	r.mount = firstSegment(p)
	for _, m := range mounts {
		if strings.HasPrefix(p, m+"/") {
			r.mount = m
			break
		}
	}
	rest := strings.TrimPrefix(p, r.mount+"/")
	if rest == p || rest == "" {
		return bad("path %q names a mount but no secret in it: %s", raw, pathSyntax)
	}
	if after, ok := strings.CutPrefix(rest, "data/"); ok {
		rest = after
	} else if rest == "data" {
		return bad("path %q names no secret after data/: %s", raw, pathSyntax)
	}
	r.secret = rest
	return r, nil
}

// checkSegments reports a path with an empty, "." or ".." segment, or
// with characters that have no place in a Vault path.
func checkSegments(p string) error {
	if strings.ContainsAny(p, "?\x00\r\n\t") {
		return errors.New("'?' and control characters are not allowed")
	}
	if slices.ContainsFunc(strings.Split(p, "/"), func(s string) bool { return s == "" || s == "." || s == ".." }) {
		return errors.New(`empty, "." and ".." segments are not allowed`)
	}
	return nil
}

func firstSegment(p string) string {
	first, _, _ := strings.Cut(p, "/")
	return first
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
