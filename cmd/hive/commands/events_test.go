package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/events"
)

func TestEventsCommandErrorsAndPastUntil(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "--since", "yesterday"}, "invalid --since \"yesterday\""},
		{[]string{"events", "--until", "-3"}, "invalid --until \"-3\""},
		{[]string{"events", "--filter", "colour=red"}, "unknown key \"colour\""},
		{[]string{"events", "--filter", "type=widget"}, "unknown type \"widget\""},
		{[]string{"events", "--format", "{{.Nope"}, "invalid --format"},
	} {
		_, errOut, code := h.run(tt.args...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tt.args, code, errOut, tt.want)
		}
	}
	out, errOut, code := h.run("events", "--since", "1", "--until", "2", "--format", "json")
	if code != 0 || out != "" {
		t.Errorf("until in the past: exit %d, out %q, err %q; want nothing at once", code, out, errOut)
	}
}

func TestEventLineIsDockerLike(t *testing.T) {
	ev := events.Event{Time: time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.UTC), Type: "task", Action: "running",
		Actor: events.Actor{ID: "t1", Attributes: map[string]string{"service": "web", "name": "web.2", "node": "laptop"}}}
	want := "2026-12-08T01:02:03.456789000Z task running t1 (name=web.2, node=laptop, service=web)"
	if got := eventLine(ev); got != want {
		t.Errorf("eventLine = %q\nwant %q", got, want)
	}
}
