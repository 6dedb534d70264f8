package rpc

import (
	"context"
	"sync"
)

// latest holds the latest value of something a session reports and hands
// it to watchers: each watch channel holds one value, the latest, so a
// slow reader skips to the newest instead of blocking the session.
type latest[T any] struct {
	mu    sync.Mutex
	value T
	known bool
	subs  map[chan T]struct{}
}

func newLatest[T any]() *latest[T] { return &latest[T]{subs: map[chan T]struct{}{}} }

func (l *latest[T]) get() T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.value
}

// set records v and offers it to every watcher.
func (l *latest[T]) set(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.value, l.known = v, true
	for ch := range l.subs {
		offer(ch, v)
	}
}

// offer puts v in ch, replacing an unread value. Only set and watch send,
// under l.mu, so the send cannot block.
func offer[T any](ch chan T, v T) {
	select {
	case <-ch:
	default:
	}
	ch <- v
}

// watch returns a channel of the latest values, closed when ctx or
// clientCtx ends.
func (l *latest[T]) watch(ctx, clientCtx context.Context) <-chan T {
	ch := make(chan T, 1)
	l.mu.Lock()
	if l.known {
		ch <- l.value
	}
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-clientCtx.Done():
		}
		l.mu.Lock()
		delete(l.subs, ch)
		close(ch)
		l.mu.Unlock()
	}()
	return ch
}
