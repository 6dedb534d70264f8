package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// levelTrace is the slog level hclog's Trace maps to: below Debug, so it
// shows only when a handler asks for it explicitly.
const levelTrace = slog.LevelDebug - 4

// hclogger adapts a *slog.Logger to the hclog.Logger hashicorp/raft wants.
//
// Raft is chatty at info (every election, every snapshot), so Info and
// Debug go to slog's Debug and Trace below it; Warn and Error keep their
// level. Keys are made snake_case ("commit-index" becomes "commit_index")
// and the logger's name goes in a "logger" attribute. The level is the
// slog handler's business: SetLevel does nothing.
type hclogger struct {
	logger  *slog.Logger
	name    string
	implied []any
}

var _ hclog.Logger = (*hclogger)(nil)

func newHCLogger(logger *slog.Logger, name string) *hclogger {
	return &hclogger{logger: logger, name: name}
}

func slogLevel(l hclog.Level) (slog.Level, bool) {
	switch l {
	case hclog.Off:
		return 0, false
	case hclog.Trace:
		return levelTrace, true
	case hclog.Warn:
		return slog.LevelWarn, true
	case hclog.Error:
		return slog.LevelError, true
	}
	return slog.LevelDebug, true // NoLevel, Debug, Info
}

func (h *hclogger) Log(level hclog.Level, msg string, args ...any) {
	sl, ok := slogLevel(demote(level, msg, args))
	if !ok || !h.logger.Enabled(context.Background(), sl) {
		return
	}
	attrs := slogArgs(args)
	if h.name != "" {
		attrs = append(attrs, slog.String("logger", h.name))
	}
	h.logger.LogAttrs(context.Background(), sl, msg, attrs...)
}

// firstElection is the warning raft logs before each election it starts.
const firstElection = "heartbeat timeout reached, starting election"

// demote lowers raft's election warning to info when no leader was known
// before: that is the election every manager holds after it starts, which
// is no cause for alarm. A later election (a leader was lost) stays a
// warning.
func demote(level hclog.Level, msg string, args []any) hclog.Level {
	if level != hclog.Warn || msg != firstElection {
		return level
	}
	for i := 0; i+1 < len(args); i += 2 {
		if fmt.Sprint(args[i]) == "last-leader-addr" && fmt.Sprint(args[i+1]) == "" {
			return hclog.Info
		}
	}
	return level
}

// keyReplacer makes hclog keys snake_case.
var keyReplacer = strings.NewReplacer("-", "_", " ", "_", ".", "_")

// slogArgs turns hclog's key/value list into slog attributes.
func slogArgs(args []any) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(args)/2+1)
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			attrs = append(attrs, slog.Any("extra_value", args[i]))
			break
		}
		key := keyReplacer.Replace(fmt.Sprint(args[i]))
		val := args[i+1]
		if f, ok := val.(hclog.Format); ok && len(f) > 0 {
			val = fmt.Sprintf(fmt.Sprint(f[0]), f[1:]...)
		}
		attrs = append(attrs, slog.Any(key, val))
	}
	return attrs
}

func (h *hclogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogger) enabled(l hclog.Level) bool {
	sl, ok := slogLevel(l)
	return ok && h.logger.Enabled(context.Background(), sl)
}

func (h *hclogger) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hclogger) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hclogger) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hclogger) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hclogger) IsError() bool { return h.enabled(hclog.Error) }

func (h *hclogger) ImpliedArgs() []any { return h.implied }

func (h *hclogger) With(args ...any) hclog.Logger {
	attrs := slogArgs(args)
	as := make([]any, len(attrs))
	for i, a := range attrs {
		as[i] = a
	}
	return &hclogger{
		logger:  h.logger.With(as...),
		name:    h.name,
		implied: append(append([]any(nil), h.implied...), args...),
	}
}

func (h *hclogger) Name() string { return h.name }

func (h *hclogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

func (h *hclogger) ResetNamed(name string) hclog.Logger {
	return &hclogger{logger: h.logger, name: name, implied: h.implied}
}

// SetLevel does nothing: the slog handler filters.
func (h *hclogger) SetLevel(hclog.Level) {}

// GetLevel reports the lowest hclog level that gets through.
func (h *hclogger) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Warn, hclog.Error} {
		if h.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (h *hclogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hclogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{h: h, infer: opts.InferLevels || opts.InferLevelsWithTimestamp, force: opts.ForceLevel}
}

// stdWriter logs each line written to it, as the standard library's
// logger writes them (one Write per line).
type stdWriter struct {
	h     *hclogger
	infer bool
	force hclog.Level
}

var stdLevels = []struct {
	prefix string
	level  hclog.Level
}{
	{"[TRACE]", hclog.Trace},
	{"[DEBUG]", hclog.Debug},
	{"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn},
	{"[ERR]", hclog.Error},
	{"[ERROR]", hclog.Error},
}

func (w *stdWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		msg := string(bytes.TrimSpace(line))
		if msg == "" {
			continue
		}
		level := hclog.Info
		if w.force != hclog.NoLevel {
			level = w.force
		} else if w.infer {
			for _, l := range stdLevels {
				if i := strings.Index(msg, l.prefix); i >= 0 {
					level = l.level
					msg = strings.TrimSpace(msg[i+len(l.prefix):])
					break
				}
			}
		}
		w.h.Log(level, msg)
	}
	return len(p), nil
}
