package sdk

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// hclogTimeFormat is the @timestamp layout go-plugin's host parses; a line
// whose timestamp has another layout is not recognised as a log entry.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// stderr is the process's standard error as it was at start. go-plugin's
// Serve later points os.Stderr at a pipe that hive discards by default, so
// loggers must keep the original: hive reads that one and parses its JSON
// lines. Writes are serialised so that lines from Logger and from
// go-plugin's own logger never interleave.
var stderr io.Writer = &lockedWriter{w: os.Stderr}

// logLevel is the level of every logger made by Logger; Serve sets it.
var logLevel = func() *slog.LevelVar {
	v := new(slog.LevelVar)
	v.Set(slog.LevelDebug)
	return v
}()

// Logger returns a logger for plugin code that writes JSON lines to the
// process's standard error in the shape go-plugin's host parses as hclog
// output (@level, @message, @timestamp, @module = name, then the
// attributes), so that hive shows each line in its own log at the right
// level with the attributes as fields. Its level is the one given to Serve
// with WithLogLevel (debug by default). Use snake_case keys.
//
// Call Logger before or after Serve: it always writes to the standard
// error the process started with, which go-plugin forwards to hive.
func Logger(name string) *slog.Logger {
	return slog.New(newHCLogHandler(stderr, logLevel)).With("@module", name)
}

// newHCLogHandler returns a slog JSON handler that names the built-in keys
// as hclog does.
func newHCLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if a.Value.Kind() == slog.KindTime {
					return slog.String("@timestamp", a.Value.Time().Format(hclogTimeFormat))
				}
				return slog.String("@timestamp", time.Now().Format(hclogTimeFormat))
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("@level", hclogLevel(l).String())
				}
				a.Key = "@level"
			case slog.MessageKey:
				a.Key = "@message"
			}
			return a
		},
	})
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
