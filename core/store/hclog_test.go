package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// captured returns an hclog adapter over a JSON slog handler at level, and
// a func returning the records written so far.
func captured(t *testing.T, level slog.Level) (hclog.Logger, func() []map[string]any) {
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level})), "raft")
	return l, func() []map[string]any {
		var out []map[string]any
		for line := range strings.Lines(buf.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("bad log line %q: %v", line, err)
			}
			out = append(out, m)
		}
		buf.Reset()
		return out
	}
}

func TestHCLogLevels(t *testing.T) {
	cases := []struct {
		name   string
		log    func(hclog.Logger)
		handle slog.Level
		want   string // slog level name, "" for nothing logged
	}{
		{"info goes to debug", func(l hclog.Logger) { l.Info("entering leader state") }, slog.LevelDebug, "DEBUG"},
		{"info hidden at info", func(l hclog.Logger) { l.Info("entering leader state") }, slog.LevelInfo, ""},
		{"debug goes to debug", func(l hclog.Logger) { l.Debug("x") }, slog.LevelDebug, "DEBUG"},
		{"trace below debug", func(l hclog.Logger) { l.Trace("x") }, slog.LevelDebug, ""},
		{"trace shown when asked", func(l hclog.Logger) { l.Trace("x") }, levelTrace, "DEBUG-4"},
		{"warn stays warn", func(l hclog.Logger) { l.Warn("x") }, slog.LevelInfo, "WARN"},
		{"error stays error", func(l hclog.Logger) { l.Error("x") }, slog.LevelInfo, "ERROR"},
		{"off logs nothing", func(l hclog.Logger) { l.Log(hclog.Off, "x") }, levelTrace, ""},
		{"first election is not a warning", func(l hclog.Logger) {
			l.Warn(firstElection, "last-leader-addr", raft.ServerAddress(""), "last-leader-id", raft.ServerID(""))
		}, slog.LevelInfo, ""},
		{"later election is a warning", func(l hclog.Logger) {
			l.Warn(firstElection, "last-leader-addr", raft.ServerAddress("m1"), "last-leader-id", raft.ServerID("m1"))
		}, slog.LevelInfo, "WARN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, records := captured(t, c.handle)
			c.log(l)
			got := records()
			switch {
			case c.want == "" && len(got) != 0:
				t.Fatalf("logged %v, want nothing", got)
			case c.want != "" && (len(got) != 1 || got[0]["level"] != c.want):
				t.Fatalf("logged %v, want one record at %s", got, c.want)
			}
		})
	}
}

func TestHCLogAttributes(t *testing.T) {
	l, records := captured(t, levelTrace)
	l.With("peer-id", "m2").Named("snapshot").Error("failed", "last-index", 7, "error", errors.New("disk"), "odd")
	got := records()
	if len(got) != 1 {
		t.Fatalf("records = %v", got)
	}
	r := got[0]
	want := map[string]any{
		"msg": "failed", "peer_id": "m2", "last_index": float64(7), "error": "disk",
		"extra_value": "odd", "logger": "raft.snapshot",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v (record %v)", k, r[k], v, r)
		}
	}
	if n := l.Named("x").ResetNamed("y").Name(); n != "y" {
		t.Errorf("ResetNamed name = %q", n)
	}
	if args := l.With("a", 1).ImpliedArgs(); len(args) != 2 {
		t.Errorf("implied args = %v", args)
	}

	l.Debug("formatted", "value", hclog.Fmt("%d-%s", 3, "x"))
	if r := records(); len(r) != 1 || r[0]["value"] != "3-x" {
		t.Errorf("hclog.Fmt value: %v", r)
	}
}

func TestHCLogStandardWriter(t *testing.T) {
	l, records := captured(t, slog.LevelDebug)
	std := l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	std.Print("[WARN] raft: slow disk")
	std.Print("[DEBUG] quiet")
	std.Print("plain line")
	got := records()
	if len(got) != 3 || got[0]["level"] != "WARN" || got[0]["msg"] != "raft: slow disk" ||
		got[1]["level"] != "DEBUG" || got[1]["msg"] != "quiet" || got[2]["level"] != "DEBUG" {
		t.Fatalf("records = %v", got)
	}
	forced := l.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error})
	if _, err := forced.Write([]byte("a\nb\n")); err != nil {
		t.Fatal(err)
	}
	if got := records(); len(got) != 2 || got[1]["level"] != "ERROR" {
		t.Fatalf("forced records = %v", got)
	}
}

func TestHCLogEnabledLevels(t *testing.T) {
	cases := []struct {
		handle slog.Level
		want   hclog.Level
	}{
		{levelTrace, hclog.Trace},
		{slog.LevelDebug, hclog.Debug},
		{slog.LevelInfo, hclog.Warn},
		{slog.LevelError, hclog.Error},
		{slog.LevelError + 4, hclog.Off},
	}
	for _, c := range cases {
		t.Run(c.handle.String(), func(t *testing.T) {
			l, _ := captured(t, c.handle)
			if got := l.GetLevel(); got != c.want {
				t.Fatalf("GetLevel = %v, want %v", got, c.want)
			}
			if l.IsInfo() != (c.handle <= slog.LevelDebug) || l.IsWarn() != (c.handle <= slog.LevelWarn) {
				t.Fatalf("IsInfo %t IsWarn %t at %v", l.IsInfo(), l.IsWarn(), c.handle)
			}
		})
	}
}
