package events

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
)

var t0 = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)

func ev(typ, action, id string) Event {
	return Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: map[string]string{"name": id}}}
}

// collect streams q into a slice until the stream ends.
func collect(ctx context.Context, r *Ring, q Query) ([]string, error) {
	var got []string
	err := r.Stream(ctx, q, func(e Event) error {
		got = append(got, e.Actor.ID)
		return nil
	})
	return got, err
}

func TestRingKeepsTheLastSizeEventsInOrder(t *testing.T) {
	clk := clock.NewFake(t0)
	r := NewRing(3, clk)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		r.Append(ev(TypeTask, "create", id))
		clk.Advance(time.Second)
	}
	got, err := collect(context.Background(), r, Query{Until: clk.Now()})
	if err != nil || !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Fatalf("replay = %v, %v; want [c d e]", got, err)
	}
	var seqs []uint64
	_ = r.Stream(context.Background(), Query{Until: clk.Now()}, func(e Event) error { seqs = append(seqs, e.Seq); return nil })
	if !slices.Equal(seqs, []uint64{3, 4, 5}) {
		t.Errorf("seqs = %v, want [3 4 5]", seqs)
	}
}

func TestStreamSinceUntilAndFilter(t *testing.T) {
	clk := clock.NewFake(t0)
	r := NewRing(100, clk)
	r.Append(ev(TypeService, "create", "web"))
	clk.Advance(time.Second)
	r.Append(ev(TypeTask, "create", "web.1"), ev(TypeTask, "running", "web.2"))
	clk.Advance(time.Second)
	r.Append(ev(TypeNode, "down", "n1"))
	clk.Advance(time.Second)
	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"until alone replays everything before it", Query{Until: clk.Now()}, []string{"web", "web.1", "web.2", "n1"}},
		{"since is inclusive", Query{Since: t0.Add(time.Second), Until: clk.Now()}, []string{"web.1", "web.2", "n1"}},
		{"until is exclusive", Query{Since: t0, Until: t0.Add(2 * time.Second)}, []string{"web", "web.1", "web.2"}},
		{"filter type", Query{Until: clk.Now(), Filter: Filter{"type": {TypeTask}}}, []string{"web.1", "web.2"}},
		{"same key ORs", Query{Until: clk.Now(), Filter: Filter{"type": {TypeTask, TypeNode}}}, []string{"web.1", "web.2", "n1"}},
		{"different keys AND", Query{Until: clk.Now(), Filter: Filter{"type": {TypeTask}, "event": {"running"}}}, []string{"web.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(context.Background(), r, tt.q)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestStreamReplaysThenFollowsWithoutGapOrRepeat appends from another
// goroutine while a stream replays: every event arrives exactly once, in
// order.
func TestStreamReplaysThenFollowsWithoutGapOrRepeat(t *testing.T) {
	clk := clock.NewFake(t0)
	r := NewRing(10000, clk)
	for range 500 {
		r.Append(ev(TypeTask, "create", "x"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for range 500 {
			r.Append(ev(TypeTask, "create", "x"))
		}
	}()
	var seqs []uint64
	err := r.Stream(ctx, Query{Since: t0}, func(e Event) error {
		seqs = append(seqs, e.Seq)
		if len(seqs) == 1000 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stream ended with %v, want context.Canceled", err)
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("event %d has seq %d: lost or repeated", i, s)
		}
	}
}

func TestStreamFollowsUntilTheEnd(t *testing.T) {
	clk := clock.NewFake(t0)
	r := NewRing(10, clk)
	done := make(chan []string)
	go func() {
		got, _ := collect(context.Background(), r, Query{Until: t0.Add(time.Minute)})
		done <- got
	}()
	for clk.Waiters() == 0 {
		time.Sleep(time.Millisecond) // until the stream waits on until
	}
	r.Append(ev(TypeTask, "running", "live"))
	clk.Advance(time.Minute)
	if got := <-done; !slices.Equal(got, []string{"live"}) {
		t.Errorf("got %v, want [live]", got)
	}
}

func TestStreamDropsASubscriberThatFallsBehind(t *testing.T) {
	clk := clock.NewFake(t0)
	r := NewRing(10, clk)
	block := make(chan struct{})
	errc := make(chan error)
	go func() {
		errc <- r.Stream(context.Background(), Query{}, func(Event) error { <-block; return nil })
	}()
	for {
		r.mu.Lock()
		n := len(r.subs)
		r.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for range subBuffer + 2 {
		r.Append(ev(TypeTask, "create", "x"))
	}
	close(block)
	err := <-errc
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("err = %v, want unavailable (fell behind)", err)
	}
}

func TestOffRing(t *testing.T) {
	r := NewRing(0, clock.NewFake(t0))
	r.Append(ev(TypeTask, "create", "x"))
	if err := r.Stream(context.Background(), Query{}, func(Event) error { return nil }); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("off ring: err = %v, want unavailable", err)
	}
}

func TestParseFilter(t *testing.T) {
	f, err := ParseFilter([]string{"type=task", "service=web", "type=node"})
	if err != nil || !slices.Equal(f.Terms(), []string{"service=web", "type=node", "type=task"}) {
		t.Errorf("ParseFilter = %v, %v", f, err)
	}
	for _, bad := range []string{"color=red", "type=widget", "type", "type="} {
		if _, err := ParseFilter([]string{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseFilter(%q) err = %v, want invalid argument", bad, err)
		}
	}
}

func TestFilterMatchesTasksByServiceAndNode(t *testing.T) {
	e := Event{Type: TypeTask, Action: "running", Actor: Actor{ID: "t1", Attributes: map[string]string{
		"name": "web.2", "service": "web", "service_id": "s1", "node": "laptop", "node_id": "n1"}}}
	for _, tt := range []struct {
		f    Filter
		want bool
	}{
		{Filter{"service": {"web"}}, true}, {Filter{"service": {"s1"}}, true}, {Filter{"service": {"api"}}, false},
		{Filter{"node": {"laptop"}}, true}, {Filter{"node": {"n1"}}, true}, {Filter{"task": {"web.2"}}, true},
		{Filter{"task": {"t1"}}, true}, {Filter{"name": {"web.2"}}, true}, {Filter{"event": {"failed"}}, false},
	} {
		if got := tt.f.Match(e); got != tt.want {
			t.Errorf("%v.Match = %v, want %v", tt.f, got, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		ago  bool
		want time.Time
	}{
		{"2026-12-08T00:59:00Z", false, now.Add(-time.Minute)},
		{"2026-12-08T01:59:00+01:00", false, now.Add(-time.Minute)},
		{"1765155600", false, time.Unix(1765155600, 0).UTC()},
		{"1765155600.25", false, time.Unix(1765155600, 250000000).UTC()},
		{"10m", true, now.Add(-10 * time.Minute)},
	} {
		got, err := ParseTime("--since", tt.in, now, tt.ago)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "-5", "10m"} {
		if _, err := ParseTime("--since", bad, now, bad != "10m"); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseTime(%q) err = %v, want invalid argument", bad, err)
		}
	}
}
