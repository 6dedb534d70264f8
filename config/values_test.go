package config

import (
	"errors"
	"testing"
	"time"

	"github.com/hiveorch/hive/internal/suggest"
)

func ctxOf(raw any) valueCtx {
	return valueCtx{raw: raw, base: "/work", home: func() (string, error) { return "/home/u", nil }}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"unix:///run/hive.sock", "unix:///run/hive.sock", true},
		{"unix:///run//x/../hive.sock", "unix:///run/hive.sock", true},
		{"/run/hive.sock", "unix:///run/hive.sock", true},
		{"~/hive.sock", "unix:///home/u/hive.sock", true},
		{"tcp://manager:2375", "tcp://manager:2375", true},
		{"tcp://[fd00::1]:2375", "tcp://[fd00::1]:2375", true},
		{"tcp://10.0.0.1:02375", "tcp://10.0.0.1:2375", true},
		{"", "", true}, // empty: derived
		{"tcp://:2375", "", false},
		{"tcp://manager", "", false},
		{"tcp://manager:http", "", false},
		{"unix://run/hive.sock", "", false},
		{"hive.sock", "", false},
		{"ssh://manager", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseEndpoint(ctxOf(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseEndpoint(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestSocketPath(t *testing.T) {
	tests := map[string]string{
		"unix:///run/hive.sock": "/run/hive.sock",
		"/run/hive.sock":        "/run/hive.sock",
		"tcp://manager:2375":    "",
		"":                      "",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := SocketPath(in); got != want {
				t.Errorf("SocketPath(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestParseAdvertiseAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"10.0.0.5", "10.0.0.5", true},
		{"10.0.0.5:4242", "10.0.0.5:4242", true},
		{"node1.example.com", "node1.example.com", true},
		{"node1.example.com:4300", "node1.example.com:4300", true},
		{"fd00::5", "fd00::5", true},
		{"[fd00::5]", "fd00::5", true},
		{"[fd00::5]:4242", "[fd00::5]:4242", true},
		{":4242", "", false},
		{"10.0.0.5:70000", "", false},
		{"a b", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseAdvertiseAddr(ctxOf(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseAdvertiseAddr(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParsePluginRef(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"runtime-docker", "runtime-docker", true},
		{"my_runtime2", "my_runtime2", true},
		{"/opt/hive/runtime-x", "/opt/hive/runtime-x", true},
		{"./bin/runtime-x", "/work/bin/runtime-x", true},
		{"~/bin/runtime-x", "/home/u/bin/runtime-x", true},
		{"-bad", "", false},
		{"", "", false},
		{"runtime.v2", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePluginRef(ctxOf(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parsePluginRef(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestNumbersFromFiles(t *testing.T) {
	tests := []struct {
		name string
		raw  any
		want uint64
		ok   bool
	}{
		{"yaml int", 8192, 8192, true},
		{"toml int64", int64(8192), 8192, true},
		{"json float", float64(8192), 8192, true},
		{"yaml uint64", uint64(1) << 63, 1 << 63, true},
		{"string", "42", 42, true},
		{"negative", -1, 0, false},
		{"fraction", 1.5, 0, false},
		{"bool", true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := toUint64(tt.raw)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("toUint64(%v) = %d, %v; want %d, %v", tt.raw, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		2 * time.Minute:                 "2m",
		90 * time.Second:                "1m30s",
		2 * time.Hour:                   "2h",
		time.Hour + 30*time.Minute:      "1h30m",
		500 * time.Millisecond:          "500ms",
		5 * time.Second:                 "5s",
		time.Hour + 10*time.Millisecond: "1h0m0.01s",
	}
	for d, want := range tests {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestHomeErrorIsReported(t *testing.T) {
	v := valueCtx{raw: "~/x", base: "/", home: func() (string, error) { return "", errors.New("$HOME is not defined") }}
	if _, err := parsePath(v); err == nil {
		t.Fatal("want an error")
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"plugins.runtime", "plugins.scheduler", "log.level"}
	if got := suggest.Closest("plugins.runtme", cands); got != "plugins.runtime" {
		t.Errorf("suggest = %q", got)
	}
	if got := suggest.Closest("colour", cands); got != "" {
		t.Errorf("suggest(colour) = %q, want none", got)
	}
}
