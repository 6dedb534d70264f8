// Package logadapt bridges hashicorp's hclog to log/slog. hive logs through
// slog everywhere; the hashicorp libraries it embeds (go-plugin, raft) want
// an hclog.Logger. HCLog hands them one whose output lands in the daemon's
// slog handler, so a plugin's stderr log lines, forwarded by go-plugin,
// appear in hive's log with hive's format and level filter.
package logadapt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level hclog's Trace maps to: below Debug, so a
// handler at Debug does not show it.
const LevelTrace = slog.LevelDebug - 4

// NameKey is the attribute key carrying the hclog logger name.
const NameKey = "logger"

// HCLog returns an hclog.Logger that writes to l. name is the logger's name
// (empty for none); it is logged under the "logger" key, and Named appends
// to it with a dot as hclog does.
//
// Levels map Trace to LevelTrace, Debug, Info, Warn and Error to their slog
// namesakes. The level filter is l's handler; SetLevel adds a floor on top
// of it, shared by the loggers derived through With and Named.
func HCLog(l *slog.Logger, name string) hclog.Logger {
	return HCLogWith(l, name, nil)
}

// LevelFunc chooses the level a record is logged at, from the level the
// library gave it, its message and its arguments; it lets a chatty library
// be quietened (hashicorp/raft logs every election at info).
type LevelFunc func(level hclog.Level, msg string, args []any) hclog.Level

// HCLogWith is HCLog with each record's level chosen by level (nil keeps
// the library's).
func HCLogWith(l *slog.Logger, name string, level LevelFunc) hclog.Logger {
	return &logger{base: l, name: name, floor: new(atomic.Int32), level: level}
}

type logger struct {
	// base is the slog logger without the name attribute; implied args are
	// already applied to it.
	base    *slog.Logger
	name    string
	implied []any
	// floor is the minimum hclog level set by SetLevel, or NoLevel.
	floor *atomic.Int32
	// level, when set, re-levels each record.
	level LevelFunc
}

var _ hclog.Logger = (*logger)(nil)

// slogLevel maps an hclog level to slog's. NoLevel is Info, as hclog
// treats it.
func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (g *logger) enabled(level hclog.Level) bool {
	if level == hclog.Off {
		return false
	}
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	if floor := hclog.Level(g.floor.Load()); floor != hclog.NoLevel && level < floor {
		return false
	}
	return g.base.Enabled(context.Background(), slogLevel(level))
}

// Log emits msg at level with args as alternating keys and values.
func (g *logger) Log(level hclog.Level, msg string, args ...any) {
	if g.level != nil {
		level = g.level(level, msg, args)
	}
	if !g.enabled(level) {
		return
	}
	attrs := make([]any, 0, len(args)+2)
	if g.name != "" {
		attrs = append(attrs, slog.String(NameKey, g.name))
	}
	attrs = append(attrs, pairs(args)...)
	g.base.Log(context.Background(), slogLevel(level), msg, attrs...)
}

// pairs turns hclog's loose key/value list into slog attributes: a key
// that is not a string is printed, a value missing at the end gets hclog's
// EXTRA_VALUE_AT_END key, hclog.Format values are formatted.
func pairs(args []any) []any {
	out := make([]any, 0, len(args)/2+1)
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			out = append(out, slog.Any("EXTRA_VALUE_AT_END", value(args[i])))
			break
		}
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		out = append(out, slog.Any(snakeKeys.Replace(key), value(args[i+1])))
	}
	return out
}

// snakeKeys makes hashicorp's keys ("commit-index") snake_case, as hive's
// logs are.
var snakeKeys = strings.NewReplacer("-", "_", " ", "_")

func value(v any) any {
	switch v := v.(type) {
	case hclog.Format:
		if len(v) == 0 {
			return ""
		}
		format, ok := v[0].(string)
		if !ok {
			return fmt.Sprint(v...)
		}
		return fmt.Sprintf(format, v[1:]...)
	case error:
		return v.Error()
	default:
		return v
	}
}

func (g *logger) Trace(msg string, args ...any) { g.Log(hclog.Trace, msg, args...) }
func (g *logger) Debug(msg string, args ...any) { g.Log(hclog.Debug, msg, args...) }
func (g *logger) Info(msg string, args ...any)  { g.Log(hclog.Info, msg, args...) }
func (g *logger) Warn(msg string, args ...any)  { g.Log(hclog.Warn, msg, args...) }
func (g *logger) Error(msg string, args ...any) { g.Log(hclog.Error, msg, args...) }

func (g *logger) IsTrace() bool { return g.enabled(hclog.Trace) }
func (g *logger) IsDebug() bool { return g.enabled(hclog.Debug) }
func (g *logger) IsInfo() bool  { return g.enabled(hclog.Info) }
func (g *logger) IsWarn() bool  { return g.enabled(hclog.Warn) }
func (g *logger) IsError() bool { return g.enabled(hclog.Error) }

// ImpliedArgs returns the pairs given to With, in order.
func (g *logger) ImpliedArgs() []any { return append([]any(nil), g.implied...) }

// With returns a logger that adds args to every line.
func (g *logger) With(args ...any) hclog.Logger {
	c := *g
	c.base = g.base.With(pairs(args)...)
	c.implied = append(append([]any(nil), g.implied...), args...)
	return &c
}

// Name returns the logger's name.
func (g *logger) Name() string { return g.name }

// Named returns a logger whose name is this one's, a dot, and name.
func (g *logger) Named(name string) hclog.Logger {
	if g.name != "" {
		name = g.name + "." + name
	}
	return g.ResetNamed(name)
}

// ResetNamed returns a logger named name.
func (g *logger) ResetNamed(name string) hclog.Logger {
	c := *g
	c.name = name
	return &c
}

// SetLevel sets a floor below which lines are dropped, for this logger and
// every logger derived from it. hclog.NoLevel removes the floor; the slog
// handler's own filter always applies.
func (g *logger) SetLevel(level hclog.Level) { g.floor.Store(int32(level)) }

// GetLevel returns the lowest level that would be emitted, or hclog.Off
// when nothing would be.
func (g *logger) GetLevel() hclog.Level {
	for _, level := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if g.enabled(level) {
			return level
		}
	}
	return hclog.Off
}

// StandardLogger returns a *log.Logger writing through this logger.
func (g *logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(g.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer that logs each line written to it. With
// opts.InferLevels, a "[WARN]"-style prefix picks the level (and is
// removed); opts.ForceLevel, when set, wins; otherwise lines are Info.
func (g *logger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{l: g, infer: opts.InferLevels || opts.InferLevelsWithTimestamp, force: opts.ForceLevel}
}

type stdWriter struct {
	l     *logger
	infer bool
	force hclog.Level
}

func (w *stdWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		msg := strings.TrimRight(string(line), "\r\n")
		if msg == "" {
			continue
		}
		level := hclog.Info
		if w.infer {
			level, msg = inferLevel(msg)
		}
		if w.force != hclog.NoLevel {
			level = w.force
		}
		w.l.Log(level, msg)
	}
	return len(p), nil
}

// maxPrefix is how far into a line a level tag may start: room for a
// timestamp before it.
const maxPrefix = 40

// inferLevel reads a "[LEVEL]" tag near the start of msg (a timestamp may
// precede it) and returns the level and msg without the tag.
func inferLevel(msg string) (hclog.Level, string) {
	prefixes := []struct {
		tag   string
		level hclog.Level
	}{
		{"[TRACE]", hclog.Trace},
		{"[DEBUG]", hclog.Debug},
		{"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn},
		{"[ERR]", hclog.Error},
		{"[ERROR]", hclog.Error},
	}
	for _, p := range prefixes {
		if i := strings.Index(msg, p.tag); i >= 0 && i <= maxPrefix {
			return p.level, strings.TrimSpace(msg[:i] + strings.TrimLeft(msg[i+len(p.tag):], " "))
		}
	}
	return hclog.Info, msg
}
