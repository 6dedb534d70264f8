package clock

import (
	"context"
	"sync"
	"time"
)

// WithTimeout is context.WithTimeout on clk: the context ends with
// context.DeadlineExceeded once clk has moved d on; it ends with the
// parent, or when cancel is called. Ending before the timeout releases the
// timer.
//
// On the real clock it is context.WithTimeout. On any other clock the
// context reports no Deadline of its own, since a Deadline is read against
// the wall clock (gRPC and the dialer turn it into a wall-clock timeout,
// and a fake time in the past would fail them at once).
func WithTimeout(parent context.Context, clk Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := clk.(Real); ok {
		return context.WithTimeout(parent, d)
	}
	inner, cancelInner := context.WithCancelCause(parent)
	c := &timeoutCtx{Context: inner, done: make(chan struct{})}
	var once sync.Once
	end := func(err, cause error) {
		once.Do(func() {
			cancelInner(cause)
			c.err = err
			close(c.done)
		})
	}
	stopTimer := clk.AfterFunc(d, func() { end(context.DeadlineExceeded, context.DeadlineExceeded) })
	stopParent := context.AfterFunc(parent, func() {
		stopTimer()
		end(parent.Err(), context.Cause(parent))
	})
	return c, func() {
		stopTimer()
		stopParent()
		end(context.Canceled, context.Canceled)
	}
}

// timeoutCtx is a context ended by end. Its own done channel (rather than
// the inner context's) makes contexts derived from it take its Err; Value,
// Deadline and context.Cause go to the inner context.
type timeoutCtx struct {
	context.Context
	done chan struct{}
	err  error // set before done is closed
}

func (c *timeoutCtx) Done() <-chan struct{} { return c.done }

func (c *timeoutCtx) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}
