package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/events"
)

var errSeen = errors.New("seen")

// until returns a sink that collects "type action name" lines and stops
// the stream once want is among them.
func until(got *[]string, want string) func(events.Event) error {
	return func(ev events.Event) error {
		l := ev.Type + " " + ev.Action + " " + ev.Actor.Attributes["name"]
		*got = append(*got, l)
		if l == want {
			return errSeen
		}
		return nil
	}
}

func TestEventsReplayAndFilter(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	if _, err := c.CreateService(ctx, spec("web", 1)); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := c.Events(ctx, events.Query{Since: time.Unix(1, 0), Filter: events.Filter{"type": {"service"}}}, until(&got, "service create web"))
	if !errors.Is(err, errSeen) {
		t.Fatalf("Events = %v after %q, want the service's create", err, got)
	}
	if len(got) != 1 {
		t.Errorf("filter type=service let through %q", got)
	}
}

func TestEventsFollowsNewOnes(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	open := make(chan struct{})
	errc := make(chan error, 1)
	var got []string
	go func() {
		errc <- c.Events(ctx, events.Query{Open: func() { close(open) }, Filter: events.Filter{"service": {"api"}}}, until(&got, "service remove api"))
	}()
	<-open
	if _, err := c.CreateService(ctx, spec("api", 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveService(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, errSeen) {
		t.Fatalf("Events = %v after %q", err, got)
	}
	if got[0] != "service create api" {
		t.Errorf("first event %q, want the create", got[0])
	}
}

func TestEventsUntilInThePastEndsAtOnce(t *testing.T) {
	c := start(t, backend(t))
	n := 0
	err := c.Events(context.Background(), events.Query{Since: time.Unix(1, 0), Until: time.Unix(2, 0)}, func(events.Event) error { n++; return nil })
	if err != nil || n != 0 {
		t.Errorf("Events = %v with %d events, want nil and none", err, n)
	}
}

func TestEventsBadFilterIsInvalidArgument(t *testing.T) {
	c := start(t, backend(t))
	err := c.Events(context.Background(), events.Query{Filter: events.Filter{"colour": {"red"}}}, func(events.Event) error { return nil })
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Kind != errdefs.Kind(errdefs.ErrInvalidArgument) {
		t.Errorf("err = %v, want an invalid_argument API error", err)
	}
}
