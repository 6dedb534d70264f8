package store

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/hiveorch/hive/core/logadapt"
)

// captured returns an hclog adapter over a JSON slog handler at level, and
// a func returning the records written so far.
func captured(t *testing.T, level slog.Level) (hclog.Logger, func() []map[string]any) {
	var buf bytes.Buffer
	l := logadapt.HCLogWith(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level})), "raft", raftLevel)
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

func TestRaftLogLevels(t *testing.T) {
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
		{"trace shown when asked", func(l hclog.Logger) { l.Trace("x") }, logadapt.LevelTrace, "DEBUG-4"},
		{"warn stays warn", func(l hclog.Logger) { l.Warn("x") }, slog.LevelInfo, "WARN"},
		{"error stays error", func(l hclog.Logger) { l.Error("x") }, slog.LevelInfo, "ERROR"},
		{"off logs nothing", func(l hclog.Logger) { l.Log(hclog.Off, "x") }, logadapt.LevelTrace, ""},
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
