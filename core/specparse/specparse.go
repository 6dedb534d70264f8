// Package specparse reads the Docker-style values of service options
// (ports, CPUs, signals, environment variables and files) the one way
// every front end goes through: the CLI's flags (cmd/hive/commands) and
// compose files (core/stack). Each function takes the name of the option
// as the user wrote it (--limit-cpu, deploy.resources.limits.cpus) and
// puts it in its errors, which say what to write instead.
//
// The functions are pure but for EnvFile, which reads the file it is
// given.
package specparse

import (
	"bufio"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/core/types"
)

// Port parses a port number, 1 to 65535.
func Port(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || n == 0 || n > 65535 {
		return 0, errors.New("want a port number from 1 to 65535")
	}
	return uint32(n), nil
}

// Protocol parses a port's protocol, tcp or udp (any case).
func Protocol(s string) (types.Protocol, error) {
	switch p := types.Protocol(strings.ToLower(strings.TrimSpace(s))); p {
	case types.ProtocolTCP, types.ProtocolUDP:
		return p, nil
	}
	return "", fmt.Errorf("protocol %q: want tcp or udp", s)
}

// Env parses an environment variable (option names the option given):
// KEY=VALUE, or KEY alone to take the value from lookup (left out, ok
// false, when it is not set there).
func Env(option, value string, lookup func(string) (string, bool)) (kv string, ok bool, err error) {
	key, _, hasVal := strings.Cut(value, "=")
	if key == "" {
		return "", false, fmt.Errorf("invalid %s %q: the variable name before '=' is empty", option, value)
	}
	if strings.ContainsAny(key, " \t") {
		return "", false, fmt.Errorf("invalid %s %q: the variable name %q holds whitespace", option, value, key)
	}
	if hasVal {
		return value, true, nil
	}
	v, ok := lookup(key)
	if !ok {
		return "", false, nil
	}
	return key + "=" + v, true, nil
}

// EnvFile reads an environment file as docker does (docker run
// --env-file, docker stack deploy's env_file): KEY=VALUE lines, # comments
// and blank lines ignored, KEY alone taking the value from lookup. Values
// are kept as written, quotes included. Its errors name the option, the
// file and the line, never a value.
func EnvFile(option, file string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", option, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kv, ok, err := Env(fmt.Sprintf("%s %s, line %d:", option, file, n), line, lookup)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, kv)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", option, file, err)
	}
	return out, nil
}

// CPU parses a number of CPUs such as 0.5 or 2 into units of 1e-9 CPUs,
// exactly (no floating point on the way).
func CPU(option, value string) (int64, error) {
	r, ok := new(big.Rat).SetString(value)
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a number of CPUs such as 0.5 or 2", option, value)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, fmt.Errorf("invalid %s %q: too precise, use at most 9 decimal places", option, value)
	}
	if !nano.Num().IsInt64() {
		return 0, fmt.Errorf("invalid %s %q: too large", option, value)
	}
	return nano.Num().Int64(), nil
}

// signals are the names Signal accepts, without their SIG prefix.
var signals = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CONT": true, "FPE": true, "HUP": true,
	"ILL": true, "INT": true, "IO": true, "KILL": true, "PIPE": true, "PROF": true, "PWR": true,
	"QUIT": true, "SEGV": true, "STKFLT": true, "STOP": true, "SYS": true, "TERM": true, "TRAP": true,
	"TSTP": true, "TTIN": true, "TTOU": true, "URG": true, "USR1": true, "USR2": true, "VTALRM": true,
	"WINCH": true, "XCPU": true, "XFSZ": true,
}

// Signal checks a stop signal: a name (SIGTERM, TERM), a real-time
// signal (SIGRTMIN+3) or a number; a name is returned with its SIG
// prefix.
func Signal(option, value string) (string, error) {
	if n, err := strconv.Atoi(value); err == nil {
		if n < 1 || n > 64 {
			return "", fmt.Errorf("invalid %s %q: signal numbers go from 1 to 64", option, value)
		}
		return value, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(value), "SIG")
	if signals[name] || strings.HasPrefix(name, "RTMIN") || strings.HasPrefix(name, "RTMAX") {
		return "SIG" + name, nil
	}
	return "", fmt.Errorf("invalid %s %q: want a signal name such as SIGTERM or SIGQUIT, or a number", option, value)
}
