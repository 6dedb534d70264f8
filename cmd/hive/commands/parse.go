package commands

import (
	"encoding/csv"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/hiveorch/hive/core/specparse"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/suggest"
)

// The parsers the CLI shares with compose files (core/stack) live in
// core/specparse; these are their names here.
var (
	parsePort     = specparse.Port
	parseProtocol = specparse.Protocol
	// parseEnv parses an -e/--env value: KEY=VALUE, or KEY alone to take
	// the value from the CLI's environment (left out when it is not set).
	parseEnv = specparse.Env
	// parseEnvFile reads an --env-file as docker does.
	parseEnvFile = specparse.EnvFile
	// parseCPU parses a --limit-cpu or --reserve-cpu value.
	parseCPU = specparse.CPU
	// parseSignal checks a --stop-signal value.
	parseSignal = specparse.Signal
)

// parsePublish parses a -p/--publish value (flag names the flag given):
// the short form
// "[PUBLISHED:]TARGET[/PROTOCOL]" ("8080:80", "8080:80/udp", "80") or the
// long form "published=8080,target=80,protocol=tcp,mode=ingress". A
// published port left out is 0: the cluster chooses one.
func parsePublish(flag, value string) (types.PortConfig, error) {
	p := types.PortConfig{Protocol: types.ProtocolTCP, PublishMode: types.PublishIngress}
	bad := func(format string, args ...any) (types.PortConfig, error) {
		return types.PortConfig{}, fmt.Errorf("invalid %s %q: %s", flag, value, fmt.Sprintf(format, args...))
	}
	if strings.Contains(value, "=") {
		fields, err := csvFields(value)
		if err != nil {
			return bad("%v", err)
		}
		for _, f := range fields {
			key, val, _ := strings.Cut(f, "=")
			key = strings.ToLower(strings.TrimSpace(key))
			switch key {
			case "published":
				n, err := parsePort(val)
				if err != nil {
					return bad("published=%s: %v", val, err)
				}
				p.PublishedPort = n
			case "target":
				n, err := parsePort(val)
				if err != nil {
					return bad("target=%s: %v", val, err)
				}
				p.TargetPort = n
			case "protocol":
				if p.Protocol, err = parseProtocol(val); err != nil {
					return bad("%v", err)
				}
			case "mode":
				switch types.PublishMode(val) {
				case types.PublishIngress, types.PublishHost:
					p.PublishMode = types.PublishMode(val)
				default:
					return bad("mode=%s: want ingress or host", val)
				}
			default:
				return bad("unknown field %q%s (known: published, target, protocol, mode)", key, suggest.DidYouMean(key, "published", "target", "protocol", "mode"))
			}
		}
		if p.TargetPort == 0 {
			return bad("target is missing: say which port in the container to publish, as in published=8080,target=80")
		}
	} else {
		ports, proto, hasProto := strings.Cut(value, "/")
		if hasProto {
			var err error
			if p.Protocol, err = parseProtocol(proto); err != nil {
				return bad("%v", err)
			}
		}
		parts := strings.Split(ports, ":")
		if strings.Contains(ports, "-") {
			return bad("port ranges are not supported: publish each port with its own -p")
		}
		switch len(parts) {
		case 1:
		case 2:
			if parts[0] == "" {
				return bad("the published port before ':' is empty: write 8080:80, or just 80 to let the cluster choose one")
			}
			n, err := parsePort(parts[0])
			if err != nil {
				return bad("published port %s: %v", parts[0], err)
			}
			p.PublishedPort = n
		default:
			return bad("want PUBLISHED:TARGET[/PROTOCOL] such as 8080:80; a host IP cannot be given, every node listens on the published port")
		}
		n, err := parsePort(parts[len(parts)-1])
		if err != nil {
			return bad("target port %s: %v", parts[len(parts)-1], err)
		}
		p.TargetPort = n
	}
	if p.PublishMode == types.PublishHost && p.PublishedPort == 0 {
		return bad("mode=host needs a published port: the cluster chooses one only for ingress")
	}
	return p, nil
}

// csvFields splits a comma-separated list of fields, allowing quoted
// fields that hold commas ("source=\"a,b\"" as docker does).
func csvFields(value string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(value))
	r.LazyQuotes = true
	fields, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot split it into comma-separated fields: %w", err)
	}
	return fields, nil
}

// parseMount parses a --mount value:
// "type=volume,source=data,target=/var/lib/data,readonly". Keys: type
// (bind, volume or tmpfs; volume when left out), source or src, target or
// dst or destination, readonly or ro (alone, or =true/false).
func parseMount(flag, value string) (types.Mount, error) {
	m := types.Mount{Type: types.MountVolume}
	bad := func(format string, args ...any) (types.Mount, error) {
		return types.Mount{}, fmt.Errorf("invalid %s %q: %s", flag, value, fmt.Sprintf(format, args...))
	}
	fields, err := csvFields(value)
	if err != nil {
		return bad("%v", err)
	}
	known := []string{"type", "source", "src", "target", "dst", "destination", "readonly", "ro"}
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !hasVal && key != "readonly" && key != "ro" {
			return bad("field %q has no value: write KEY=VALUE, as in target=/data", f)
		}
		switch key {
		case "type":
			switch t := types.MountType(strings.ToLower(val)); t {
			case types.MountBind, types.MountVolume, types.MountTmpfs:
				m.Type = t
			default:
				return bad("type=%s: want bind, volume or tmpfs", val)
			}
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if !hasVal {
				m.ReadOnly = true
				break
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("%s=%s: want true or false", key, val)
			}
			m.ReadOnly = b
		default:
			return bad("unknown field %q%s (known: type, source/src, target/dst/destination, readonly/ro)", key, suggest.DidYouMean(key, known...))
		}
	}
	switch {
	case m.Target == "":
		return bad("target is missing: say where to mount it in the container, as in target=/data")
	case !path.IsAbs(m.Target):
		return bad("target %q must be an absolute path", m.Target)
	}
	switch m.Type {
	case types.MountBind:
		if m.Source == "" {
			return bad("a bind mount needs source=/path/on/the/host")
		}
		if !path.IsAbs(m.Source) {
			return bad("the source of a bind mount must be an absolute path on the host, got %q", m.Source)
		}
	case types.MountTmpfs:
		if m.Source != "" {
			return bad("a tmpfs mount takes no source")
		}
	}
	return m, nil
}

// parseMemory parses a --limit-memory or --reserve-memory value: "512m",
// "1g", "1.5g" or a number of bytes.
func parseMemory(flag, value string) (int64, error) {
	n, err := units.RAMInBytes(value)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a size such as 512m, 1g or 1073741824 (bytes)", flag, value)
	}
	return n, nil
}

// parseDuration parses a duration flag ("5s", "1m30s"), which must not be
// negative.
func parseDuration(flag, value string) (types.Duration, error) {
	d, err := time.ParseDuration(value)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a duration such as 10s, 1m30s or 2h", flag, value)
	}
	return types.Duration(d), nil
}

// parseLabel parses a --label value (flag names the flag given):
// KEY=VALUE, or KEY alone for an empty value.
func parseLabel(flag, value string) (string, string, error) {
	key, val, _ := strings.Cut(value, "=")
	if strings.TrimSpace(key) == "" {
		return "", "", fmt.Errorf("invalid %s %q: the label name before '=' is empty", flag, value)
	}
	return key, val, nil
}

// splitWords splits a command line into words the way a shell does for
// quotes and backslashes, for --entrypoint "sh -c".
func splitWords(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  rune
		escape bool
	)
	for _, r := range s {
		switch {
		case escape:
			cur.WriteRune(r)
			escape = false
		case r == '\\' && quote != '\'':
			escape, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escape {
		return nil, fmt.Errorf("unterminated quote or escape in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
