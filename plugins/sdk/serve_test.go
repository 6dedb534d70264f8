package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
)

func TestWatchParent(t *testing.T) {
	t.Run("orphaned when the parent changes", func(t *testing.T) {
		var ppid atomic.Int64
		ppid.Store(42)
		orphaned := make(chan struct{})
		stop := make(chan struct{})
		defer close(stop)
		go watchParent(42, func() int { return int(ppid.Load()) }, time.Millisecond, stop, func() { close(orphaned) })
		select {
		case <-orphaned:
			t.Fatal("orphaned while the parent is alive")
		case <-time.After(20 * time.Millisecond):
		}
		ppid.Store(1)
		select {
		case <-orphaned:
		case <-time.After(5 * time.Second):
			t.Fatal("not orphaned after the parent changed")
		}
	})
	t.Run("orphaned at once when the parent is already gone", func(t *testing.T) {
		orphaned := make(chan struct{})
		stop := make(chan struct{})
		defer close(stop)
		go watchParent(42, func() int { return 1 }, time.Hour, stop, func() { close(orphaned) })
		select {
		case <-orphaned:
		case <-time.After(5 * time.Second):
			t.Fatal("not orphaned")
		}
	})
	t.Run("stops when told", func(t *testing.T) {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			watchParent(42, func() int { return 42 }, time.Millisecond, stop, func() { t.Error("orphaned") })
			close(done)
		}()
		close(stop)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("watchParent did not return after stop")
		}
	})
}

func TestExpectedParent(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int
	}{
		{"", startPPID},
		{"4242", 4242},
		{"not-a-pid", startPPID},
		{"-3", startPPID},
	} {
		t.Run(strconv.Quote(tc.env), func(t *testing.T) {
			got := expectedParent(func(k string) string {
				if k == ParentPIDEnv {
					return tc.env
				}
				return ""
			})
			if got != tc.want {
				t.Errorf("expectedParent = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLoggerWritesHCLogJSON(t *testing.T) {
	var buf bytes.Buffer
	var level slog.LevelVar
	level.Set(slog.LevelDebug - 4)
	log := slog.New(newHCLogHandler(&buf, &level)).With("@module", "myplugin")
	for _, tc := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "trace"},
		{slog.LevelDebug, "debug"},
		{slog.LevelInfo, "info"},
		{slog.LevelWarn, "warn"},
		{slog.LevelError, "error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			buf.Reset()
			log.Log(t.Context(), tc.level, "container started", "container_id", "c1", slog.Group("req", "n", 2))
			var e map[string]any
			if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
				t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
			}
			if e["@level"] != tc.want || e["@message"] != "container started" || e["@module"] != "myplugin" || e["container_id"] != "c1" {
				t.Errorf("entry = %v", e)
			}
			if hclog.LevelFromString(e["@level"].(string)) == hclog.NoLevel {
				t.Errorf("@level %q is not an hclog level", e["@level"])
			}
			ts, _ := e["@timestamp"].(string)
			// The layout go-plugin's host parses; any other is not a log entry to it.
			if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
				t.Errorf("@timestamp %q: %v", ts, err)
			}
			if g, ok := e["req"].(map[string]any); !ok || g["n"] != float64(2) {
				t.Errorf("group attribute = %v", e["req"])
			}
		})
	}
	t.Run("level filters", func(t *testing.T) {
		buf.Reset()
		level.Set(slog.LevelWarn)
		log.Info("hidden")
		if buf.Len() != 0 {
			t.Errorf("info logged at warn level: %q", buf.String())
		}
	})
}

func TestHCLogLevel(t *testing.T) {
	for l, want := range map[slog.Level]hclog.Level{
		slog.LevelDebug - 1: hclog.Trace, slog.LevelDebug: hclog.Debug, slog.LevelInfo: hclog.Info,
		slog.LevelWarn: hclog.Warn, slog.LevelError: hclog.Error, slog.LevelError + 4: hclog.Error,
	} {
		if got := hclogLevel(l); got != want {
			t.Errorf("hclogLevel(%v) = %v, want %v", l, got, want)
		}
	}
}
