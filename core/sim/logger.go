package sim

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/internal/testutil"
)

// TestLogger returns a logger that writes to tb.Log, so that logs show only
// when a test fails, at level and above. Each record carries sim_time, the
// fake time elapsed since start on clk, in place of the wall-clock time.
func TestLogger(tb testing.TB, level slog.Leveler, clk clock.Clock, start time.Time) *slog.Logger {
	h := slog.NewTextHandler(testutil.Writer(tb), &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(&simTimeHandler{Handler: h, clock: clk, start: start})
}

// simTimeHandler adds the fake time to each record.
type simTimeHandler struct {
	slog.Handler
	clock clock.Clock
	start time.Time
}

func (h *simTimeHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.Duration("sim_time", h.clock.Now().Sub(h.start)))
	return h.Handler.Handle(ctx, r)
}

func (h *simTimeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &simTimeHandler{Handler: h.Handler.WithAttrs(attrs), clock: h.clock, start: h.start}
}

func (h *simTimeHandler) WithGroup(name string) slog.Handler {
	return &simTimeHandler{Handler: h.Handler.WithGroup(name), clock: h.clock, start: h.start}
}
