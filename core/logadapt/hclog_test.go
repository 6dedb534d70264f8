package logadapt

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// capture returns an hclog logger writing JSON lines at or above level to
// the returned buffer.
func capture(level slog.Level, name string) (hclog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	return HCLog(l, name), &buf
}

func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLevelsMapToSlog(t *testing.T) {
	tests := []struct {
		level hclog.Level
		want  string
	}{
		{hclog.Trace, "DEBUG-4"},
		{hclog.Debug, "DEBUG"},
		{hclog.Info, "INFO"},
		{hclog.NoLevel, "INFO"},
		{hclog.Warn, "WARN"},
		{hclog.Error, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			l, buf := capture(LevelTrace, "")
			l.Log(tt.level, "hello")
			recs := records(t, buf)
			if len(recs) != 1 || recs[0]["level"] != tt.want || recs[0]["msg"] != "hello" {
				t.Fatalf("records = %v, want one at %s", recs, tt.want)
			}
		})
	}
}

func TestHandlerLevelFilters(t *testing.T) {
	l, buf := capture(slog.LevelInfo, "")
	l.Trace("t")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	l.Log(hclog.Off, "off")
	var msgs []string
	for _, r := range records(t, buf) {
		msgs = append(msgs, r["msg"].(string))
	}
	if got := strings.Join(msgs, ","); got != "i,w,e" {
		t.Fatalf("emitted %q, want i,w,e", got)
	}
	if l.IsTrace() || l.IsDebug() || !l.IsInfo() || !l.IsWarn() || !l.IsError() {
		t.Fatal("Is* guards do not follow the handler level")
	}
	if got := l.GetLevel(); got != hclog.Info {
		t.Fatalf("GetLevel = %v, want info", got)
	}
}

func TestSetLevelIsAFloorSharedWithChildren(t *testing.T) {
	l, buf := capture(LevelTrace, "")
	child := l.Named("child").With("k", "v")
	l.SetLevel(hclog.Warn)
	child.Info("dropped")
	child.Warn("kept")
	if got := child.GetLevel(); got != hclog.Warn {
		t.Fatalf("child GetLevel = %v, want warn", got)
	}
	recs := records(t, buf)
	if len(recs) != 1 || recs[0]["msg"] != "kept" {
		t.Fatalf("records = %v, want only kept", recs)
	}
	l.SetLevel(hclog.Off)
	if got := l.GetLevel(); got != hclog.Off {
		t.Fatalf("GetLevel after Off = %v, want off", got)
	}
}

func TestWithAndNamed(t *testing.T) {
	l, buf := capture(slog.LevelDebug, "plugin")
	sub := l.With("plugin_kind", "runtime").Named("hive").With("pid", 42)
	sub.Info("started", "addr", "/tmp/x", errors.New("odd"))

	if got := sub.Name(); got != "plugin.hive" {
		t.Fatalf("Name = %q, want plugin.hive", got)
	}
	if got := sub.ImpliedArgs(); len(got) != 4 || got[0] != "plugin_kind" || got[3] != 42 {
		t.Fatalf("ImpliedArgs = %v", got)
	}
	if reset := sub.ResetNamed("other"); reset.Name() != "other" {
		t.Fatalf("ResetNamed name = %q", reset.Name())
	}
	recs := records(t, buf)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	r := recs[0]
	want := map[string]any{
		"logger":             "plugin.hive",
		"plugin_kind":        "runtime",
		"pid":                float64(42),
		"addr":               "/tmp/x",
		"EXTRA_VALUE_AT_END": "odd",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v (record %v)", k, r[k], v, r)
		}
	}
}

func TestArgValues(t *testing.T) {
	l, buf := capture(slog.LevelDebug, "")
	l.Info("m", "err", errors.New("boom"), "fmt", hclog.Fmt("%d-%s", 7, "x"), 3, "numkey")
	r := records(t, buf)[0]
	if r["err"] != "boom" || r["fmt"] != "7-x" || r["3"] != "numkey" {
		t.Fatalf("record = %v", r)
	}
}

func TestStandardWriter(t *testing.T) {
	tests := []struct {
		name      string
		opts      *hclog.StandardLoggerOptions
		line      string
		wantLevel string
		wantMsg   string
	}{
		{"plain", nil, "hello\n", "INFO", "hello"},
		{"inferred", &hclog.StandardLoggerOptions{InferLevels: true}, "[WARN] disk low\n", "WARN", "disk low"},
		{"inferred after timestamp", &hclog.StandardLoggerOptions{InferLevels: true}, "2024/01/02 10:00:00 [ERR] bad\n", "ERROR", "2024/01/02 10:00:00 bad"},
		{"forced", &hclog.StandardLoggerOptions{InferLevels: true, ForceLevel: hclog.Debug}, "[WARN] x\n", "DEBUG", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, buf := capture(slog.LevelDebug, "")
			std := l.StandardLogger(tt.opts)
			std.Print(tt.line)
			recs := records(t, buf)
			if len(recs) != 1 || recs[0]["level"] != tt.wantLevel || recs[0]["msg"] != tt.wantMsg {
				t.Fatalf("records = %v, want %s %q", recs, tt.wantLevel, tt.wantMsg)
			}
		})
	}
}
