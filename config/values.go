package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// valueCtx is what a key's parser needs besides the raw value.
type valueCtx struct {
	raw  any                    // as the layer produced it: a string from env and flags; any scalar from a file
	base string                 // directory a relative path is resolved against
	home func() (string, error) // home directory for ~
}

// wantError is the "what is allowed" part of an invalid-value error.
type wantError string

func (e wantError) Error() string { return string(e) }

func want(format string, args ...any) error { return wantError(fmt.Sprintf(format, args...)) }

// str returns the raw value as a string, or the given error when it is of
// another type (a number or boolean in a file).
func (v valueCtx) str(onWrongType error) (string, error) {
	s, ok := v.raw.(string)
	if !ok {
		return "", onWrongType
	}
	return strings.TrimSpace(s), nil
}

// expandPath expands a leading ~ and makes p absolute against base.
func expandPath(p, base string, home func() (string, error)) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		h, err := home()
		if err != nil {
			return "", want("a path; ~ cannot be expanded: %v (write the full path)", err)
		}
		p = filepath.Join(h, strings.TrimPrefix(p, "~"))
	} else if strings.HasPrefix(p, "~") {
		return "", want("a path; ~user is not supported (write the full path)")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p), nil
}

// parsePath parses a directory or file path: ~ expanded, made absolute.
func parsePath(v valueCtx) (string, error) {
	errWant := want("a path (absolute, relative, or starting with ~/)")
	s, err := v.str(errWant)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", errWant
	}
	return expandPath(s, v.base, v.home)
}

// parseOptionalPath is parsePath where an empty value means none.
func parseOptionalPath(v valueCtx) (string, error) {
	if s, ok := v.raw.(string); ok && s == "" {
		return "", nil
	}
	return parsePath(v)
}

const endpointWant = "unix:///absolute/path, tcp://host:port, or an absolute socket path"

// parseEndpoint normalizes an API endpoint to "unix:///abs/path" or
// "tcp://host:port". A bare absolute path (or ~/path) means unix.
func parseEndpoint(v valueCtx) (string, error) {
	s, err := v.str(wantError(endpointWant))
	if err != nil {
		return "", err
	}
	switch {
	case s == "":
		return "", nil
	case strings.HasPrefix(s, "unix://"):
		p := strings.TrimPrefix(s, "unix://")
		if !filepath.IsAbs(p) && p != "~" && !strings.HasPrefix(p, "~/") {
			return "", want("%s (the unix socket path must be absolute)", endpointWant)
		}
		p, err := expandPath(p, v.base, v.home)
		if err != nil {
			return "", err
		}
		return "unix://" + p, nil
	case strings.HasPrefix(s, "tcp://"):
		host, port, err := splitHostPort(strings.TrimPrefix(s, "tcp://"))
		if err != nil {
			return "", want("%s (%v)", endpointWant, err)
		}
		if host == "" {
			return "", want("%s (the tcp host is empty)", endpointWant)
		}
		return "tcp://" + net.JoinHostPort(host, port), nil
	case filepath.IsAbs(s) || s == "~" || strings.HasPrefix(s, "~/"):
		p, err := expandPath(s, v.base, v.home)
		if err != nil {
			return "", err
		}
		return "unix://" + p, nil
	}
	return "", wantError(endpointWant)
}

// splitHostPort splits host:port and checks the port is a number in 1-65535.
func splitHostPort(s string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(s)
	if err != nil {
		var addrErr *net.AddrError
		if errors.As(err, &addrErr) {
			return "", "", errors.New(addrErr.Err)
		}
		return "", "", err
	}
	if strings.ContainsAny(host, " /") {
		return "", "", fmt.Errorf("bad host %q", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("port %q is not a number in 1-65535", port)
	}
	return host, strconv.Itoa(n), nil
}

// parseListenAddr parses host:port; the host may be empty (all addresses).
func parseListenAddr(v valueCtx) (string, error) {
	const w = `host:port with a port in 1-65535, e.g. "0.0.0.0:4242"`
	s, err := v.str(wantError(w))
	if err != nil {
		return "", err
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return "", want("%s (%v)", w, err)
	}
	return net.JoinHostPort(host, port), nil
}

// parseOptionalListenAddr is parseListenAddr where an empty value means
// none.
func parseOptionalListenAddr(v valueCtx) (string, error) {
	if s, ok := v.raw.(string); ok && s == "" {
		return "", nil
	}
	return parseListenAddr(v)
}

// parseMetricsListen parses host:port where port 0 (a free port) is
// allowed; an empty value means off.
func parseMetricsListen(v valueCtx) (string, error) {
	const w = `host:port with a port in 0-65535 (0 picks a free port), e.g. "127.0.0.1:9323", or empty for off`
	s, err := v.str(wantError(w))
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", want("%s (%v)", w, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", want("%s (port %q is not a number in 0-65535)", w, port)
	}
	return net.JoinHostPort(host, port), nil
}

// parseAdvertiseAddr parses host[:port]; "" means derived by the daemon.
func parseAdvertiseAddr(v valueCtx) (string, error) {
	const w = `host or host:port with a port in 1-65535, e.g. "10.0.0.5" or "node1.example.com:4242"`
	s, err := v.str(wantError(w))
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", nil
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if ip, err := netip.ParseAddr(bare); err == nil {
		return ip.String(), nil
	}
	if !strings.Contains(s, ":") {
		if strings.ContainsAny(s, " /") {
			return "", wantError(w)
		}
		return s, nil
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return "", want("%s (%v)", w, err)
	}
	if host == "" {
		return "", want("%s (the host is empty)", w)
	}
	return net.JoinHostPort(host, port), nil
}

// parseIP parses an IP address; "" means all addresses.
func parseIP(v valueCtx) (string, error) {
	const w = `an IP address such as "10.0.0.5" or "fd00::5", or empty for all addresses`
	s, err := v.str(wantError(w))
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "", wantError(w)
	}
	return ip.String(), nil
}

// parsePool parses an IPv4 network in CIDR form with no host bits set.
func parsePool(v valueCtx) (netip.Prefix, error) {
	const w = `an IPv4 network in CIDR form such as "10.0.0.0/8"`
	s, err := v.str(wantError(w))
	if err != nil {
		return netip.Prefix{}, err
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !p.Addr().Is4():
		return netip.Prefix{}, wantError(w)
	case p.Masked() != p:
		return netip.Prefix{}, want("%s (%s has host bits set: write %s)", w, p, p.Masked())
	}
	return p, nil
}

// parsePrefixLen parses a prefix length from 1 to 32, written 24 or /24.
func parsePrefixLen(v valueCtx) (int, error) {
	const w = "a prefix length from 1 to 32, such as 24"
	raw := v.raw
	if s, ok := raw.(string); ok {
		raw = strings.TrimPrefix(strings.TrimSpace(s), "/")
	}
	u, ok := toUint64(raw)
	if !ok || u < 1 || u > 32 {
		return 0, wantError(w)
	}
	return int(u), nil
}

// oneOf returns a parser accepting one of the given words (any case).
func oneOf(words ...string) func(valueCtx) (string, error) {
	w := "one of " + strings.Join(words, ", ")
	return func(v valueCtx) (string, error) {
		s, err := v.str(wantError(w))
		if err != nil {
			return "", err
		}
		s = strings.ToLower(s)
		for _, ok := range words {
			if s == ok {
				return s, nil
			}
		}
		return "", wantError(w)
	}
}

// pluginNameRE is what a plugin name may look like; it is also the part
// of a plugins.config.NAME.KEY key between the dots.
var pluginNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// parsePluginRef parses a plugin reference: a plugin name (letters,
// digits, '-', '_') or a path to an executable (anything with a '/', or
// starting with ~ or .), which is made absolute.
func parsePluginRef(v valueCtx) (string, error) {
	const w = `a plugin name such as "runtime-docker" (letters, digits, '-', '_') or a path to a plugin executable`
	s, err := v.str(wantError(w))
	if err != nil {
		return "", err
	}
	switch {
	case s == "":
		return "", wantError(w)
	case strings.Contains(s, "/") || strings.HasPrefix(s, "~") || strings.HasPrefix(s, "."):
		return expandPath(s, v.base, v.home)
	case pluginNameRE.MatchString(s):
		return s, nil
	}
	return "", wantError(w)
}

// runtimeAliases are the short names plugins.runtime accepts for the
// built-in runtimes.
var runtimeAliases = map[string]string{"docker": "runtime-docker", "containerd": "runtime-containerd"}

// parseRuntimeRef is parsePluginRef for plugins.runtime: a short name of
// a built-in runtime ("containerd") stands for its full name.
func parseRuntimeRef(v valueCtx) (string, error) {
	s, err := parsePluginRef(v)
	if full, ok := runtimeAliases[s]; ok && err == nil {
		return full, nil
	}
	return s, err
}

// pluginRefName returns the plugin name a reference stands for: the name
// itself, or the base name of a path.
func pluginRefName(ref string) string {
	if strings.Contains(ref, "/") {
		return filepath.Base(ref)
	}
	return ref
}

// durationParser returns a parser for a duration of at least min (or
// greater than zero when min is 0).
func durationParser(min time.Duration) func(valueCtx) (time.Duration, error) {
	w := `a duration such as "5s", "500ms" or "2m", greater than 0`
	if min > 0 {
		w = fmt.Sprintf(`a duration such as "5s", "500ms" or "2m", at least %s`, formatDuration(min))
	}
	return func(v valueCtx) (time.Duration, error) {
		s, ok := v.raw.(string)
		if !ok {
			if isNumber(v.raw) {
				return 0, want("%s (a bare number is not accepted: write the unit, e.g. \"%vs\" for seconds)", w, v.raw)
			}
			return 0, wantError(w)
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d <= 0 || d < min {
			return 0, wantError(w)
		}
		return d, nil
	}
}

// isNumber reports whether raw is a number as a file parser produces it.
func isNumber(raw any) bool {
	switch raw.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

// toUint64 converts a whole non-negative number, from a file or a string,
// to uint64.
func toUint64(raw any) (uint64, bool) {
	switch n := raw.(type) {
	case string:
		u, err := strconv.ParseUint(strings.TrimSpace(n), 10, 64)
		return u, err == nil
	case int:
		return uint64(n), n >= 0
	case int8:
		return uint64(n), n >= 0
	case int16:
		return uint64(n), n >= 0
	case int32:
		return uint64(n), n >= 0
	case int64:
		return uint64(n), n >= 0
	case uint:
		return uint64(n), true
	case uint8:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case float32:
		return floatToUint64(float64(n))
	case float64:
		return floatToUint64(n)
	}
	return 0, false
}

func floatToUint64(f float64) (uint64, bool) {
	if f < 0 || f != math.Trunc(f) || f >= math.MaxUint64 {
		return 0, false
	}
	return uint64(f), true
}

// parsePositiveInt parses a whole number >= 1 that fits an int.
func parsePositiveInt(v valueCtx) (int, error) {
	const w = "a whole number >= 1"
	u, ok := toUint64(v.raw)
	if !ok || u < 1 || u > math.MaxInt32 {
		return 0, wantError(w)
	}
	return int(u), nil
}

// parseNonNegativeInt parses a whole number >= 0 that fits an int.
func parseNonNegativeInt(v valueCtx) (int, error) {
	const w = "a whole number >= 0"
	u, ok := toUint64(v.raw)
	if !ok || u > math.MaxInt32 {
		return 0, wantError(w)
	}
	return int(u), nil
}

// parsePort parses a TCP or UDP port number.
func parsePort(v valueCtx) (uint16, error) {
	const w = "a port number from 1 to 65535"
	u, ok := toUint64(v.raw)
	if !ok || u < 1 || u > math.MaxUint16 {
		return 0, wantError(w)
	}
	return uint16(u), nil
}

// parsePositiveUint parses a whole number >= 1.
func parsePositiveUint(v valueCtx) (uint64, error) {
	const w = "a whole number >= 1"
	u, ok := toUint64(v.raw)
	if !ok || u < 1 {
		return 0, wantError(w)
	}
	return u, nil
}

// settingString converts a plugin setting's value to its string form:
// strings as they are, numbers and booleans formatted, null as "".
func settingString(raw any) (string, bool) {
	switch x := raw.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	if isNumber(raw) {
		return fmt.Sprint(raw), true
	}
	return "", false
}

// formatRaw prints a raw value for an error message.
func formatRaw(raw any) string {
	switch x := raw.(type) {
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "(a map)"
	case []any:
		return "(a list)"
	}
	if s, ok := settingString(raw); ok {
		return s
	}
	return fmt.Sprintf("%v", raw)
}

// formatDuration prints a duration without trailing zero units: "2m"
// rather than "2m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
