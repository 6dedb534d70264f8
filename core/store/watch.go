package store

// watchBuffer is the capacity of a subscriber's channel.
const watchBuffer = 1024

// subscriber is one ViewAndWatch subscription. Its fields are guarded by
// fsm.mu; only the publisher (holding it) sends on ch, so the channel
// never has more than one sender.
//
// Overflow policy: the publisher never blocks. It keeps one slot of ch
// free at all times; when an event would fill that last slot, it sends an
// ActionReset there instead, closes ch and drops the subscriber. So a
// subscriber that falls behind by watchBuffer-1 events reads what was
// queued, then the reset, then sees the channel closed, and knows it
// missed events: it must call ViewAndWatch again, which re-reads the state
// and subscribes anew.
type subscriber struct {
	ch     chan Event
	filter func(Event) bool
	closed bool
}

// send delivers ev to s following the overflow policy and reports whether
// s is still subscribed. ActionReset events bypass the filter.
func (s *subscriber) send(ev Event) bool {
	if ev.Action != ActionReset && s.filter != nil && !s.filter(ev) {
		return true
	}
	if len(s.ch) < cap(s.ch)-1 {
		s.ch <- ev
		return true
	}
	s.ch <- Event{Action: ActionReset, Index: ev.Index}
	close(s.ch)
	s.closed = true
	return false
}

// publishLocked sends ev to every subscriber. f.mu must be held.
func (f *fsm) publishLocked(ev Event) {
	for s := range f.subs {
		if !s.send(ev) {
			delete(f.subs, s)
			f.logger.Warn("watch subscriber fell behind; it was sent a reset and dropped",
				"index", ev.Index, "buffer", watchBuffer)
		}
	}
}

// watch returns the current state and a subscription to every event
// published after it, taken together under the lock so nothing falls in
// between.
func (f *fsm) watch(filter func(Event) bool) (readTx, *subscriber) {
	s := &subscriber{ch: make(chan Event, watchBuffer), filter: filter}
	f.mu.Lock()
	defer f.mu.Unlock()
	tx := readTx{txn: f.db.Txn(false), index: f.index}
	if f.closed {
		close(s.ch)
		s.closed = true
	} else {
		f.subs[s] = struct{}{}
	}
	return tx, s
}

// unwatch ends a subscription and closes its channel. It is idempotent.
func (f *fsm) unwatch(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
	if !s.closed {
		close(s.ch)
		s.closed = true
	}
}

// closeWatches ends every subscription; later ones start closed.
func (f *fsm) closeWatches() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		delete(f.subs, s)
		if !s.closed {
			close(s.ch)
			s.closed = true
		}
	}
}
