package runtime

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
)

// AddLog appends a line to a container's output on stream (StreamStdout or
// StreamStderr), stamped with the Fake's clock; a Logs call following the
// container receives it.
func (f *Fake) AddLog(id, stream, line string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookupLocked("add log", id)
	if err != nil {
		return err
	}
	if stream != StreamStdout && stream != StreamStderr {
		return errorf(sdk.ErrInvalidArgument, "add log %s: unknown stream %q (want stdout or stderr)", id, stream)
	}
	f.logLocked(c, stream, line)
	return nil
}

func (f *Fake) logLocked(c *fakeContainer, stream, line string) {
	c.logs = append(c.logs, LogEntry{Time: f.now(), Stream: stream, Line: []byte(line)})
	c.wakeLogs()
}

// wakeLogs wakes the Logs calls following the container.
func (c *fakeContainer) wakeLogs() {
	close(c.logWake)
	c.logWake = make(chan struct{})
}

// Logs sends the container's output to sink, then, with Follow, what it
// prints next until it stops, ctx is done or the Fake goes down.
func (f *Fake) Logs(ctx context.Context, id string, opts LogOptions, sink func(LogEntry) error) error {
	f.mu.Lock()
	if err := f.beginLocked("Logs"); err != nil {
		f.mu.Unlock()
		return err
	}
	c, err := f.lookupLocked("logs", id)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	if sink == nil {
		f.mu.Unlock()
		return errorf(sdk.ErrInvalidArgument, "logs %s: no sink", id)
	}
	var batch []LogEntry
	for _, e := range c.logs {
		if opts.Since.IsZero() || !e.Time.Before(opts.Since) {
			batch = append(batch, e)
		}
	}
	if opts.Tail >= 0 && len(batch) > opts.Tail {
		batch = batch[len(batch)-opts.Tail:]
	}
	batch = slices.Clone(batch)
	next := len(c.logs)
	for {
		running, wake, down := c.running(), c.logWake, f.downCh
		f.mu.Unlock()

		for _, e := range batch {
			if !opts.Timestamps {
				e.Time = time.Time{}
			}
			e.Line = slices.Clone(e.Line)
			if err := sink(e); err != nil {
				return err
			}
		}
		if !opts.Follow || !running {
			return nil
		}
		select {
		case <-wake:
		case <-down:
			return errorf(sdk.ErrUnavailable, "logs %s: fake runtime went down", id)
		case <-ctx.Done():
			return fmt.Errorf("logs %s: %w", id, ctx.Err())
		}

		f.mu.Lock()
		batch = nil
		for _, e := range c.logs[next:] {
			if opts.Since.IsZero() || !e.Time.Before(opts.Since) {
				batch = append(batch, e)
			}
		}
		next = len(c.logs)
	}
}
