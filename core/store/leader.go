package store

import "sync"

// leadership fans this node's leadership transitions out to the channels
// LeaderCh returned.
//
// Each channel has room for one value and always holds the latest one: a
// transition that finds the previous one unread replaces it, as raft's own
// LeaderCh does. So a receiver always ends up knowing the current state;
// reading the same value twice in a row means the opposite state came and
// went in between.
type leadership struct {
	mu     sync.Mutex
	leader bool
	subs   []chan bool
	closed bool
}

// subscribe returns a new channel, primed with true when this node leads
// already.
func (l *leadership) subscribe() <-chan bool {
	ch := make(chan bool, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		close(ch)
		return ch
	}
	if l.leader {
		ch <- true
	}
	l.subs = append(l.subs, ch)
	return ch
}

// unsubscribe forgets a channel subscribe returned.
func (l *leadership) unsubscribe(ch <-chan bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.subs {
		if c == ch {
			l.subs = append(l.subs[:i], l.subs[i+1:]...)
			return
		}
	}
}

// cancel forgets a channel subscribe returned and closes it; cancelling
// it again does nothing.
func (l *leadership) cancel(ch <-chan bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.subs {
		if c == ch {
			l.subs = append(l.subs[:i], l.subs[i+1:]...)
			close(c)
			return
		}
	}
}

// current reports the state last set.
func (l *leadership) current() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader
}

// set records a transition and announces it; setting the current state
// again does nothing.
func (l *leadership) set(leader bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.leader == leader {
		return
	}
	l.leader = leader
	for _, ch := range l.subs {
		select {
		case ch <- leader:
		default:
			// Replace the unread value. Only this method sends, under
			// l.mu, so after the drain the send cannot block.
			select {
			case <-ch:
			default:
			}
			ch <- leader
		}
	}
}

// close closes every channel; a receive then yields false.
func (l *leadership) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.leader = false
	for _, ch := range l.subs {
		close(ch)
	}
	l.subs = nil
}
