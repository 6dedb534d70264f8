package pluginhost

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToMaxAndResetsAfterHealthyRun(t *testing.T) {
	tests := []struct {
		name    string
		uptimes []time.Duration
		want    []time.Duration
	}{
		{
			name:    "crash loop doubles and caps at 30s",
			uptimes: []time.Duration{0, 0, 0, 0, 0, 0, 0, 0},
			want:    []time.Duration{1, 2, 4, 8, 16, 30, 30, 30},
		},
		{
			name:    "short runs do not reset",
			uptimes: []time.Duration{0, 59, 59},
			want:    []time.Duration{1, 2, 4},
		},
		{
			name:    "a 60s run resets to 1s",
			uptimes: []time.Duration{0, 0, 0, 60, 0},
			want:    []time.Duration{1, 2, 4, 1, 2},
		},
		{
			name:    "a long run after the cap resets",
			uptimes: []time.Duration{0, 0, 0, 0, 0, 0, 3600},
			want:    []time.Duration{1, 2, 4, 8, 16, 30, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackoff()
			for i, up := range tt.uptimes {
				got := b.next(up * time.Second)
				if want := tt.want[i] * time.Second; got != want {
					t.Fatalf("restart %d (uptime %ds): delay %s, want %s", i+1, up, got, want)
				}
			}
		})
	}
}

func TestHealthTrackerRestartsOnlyAfterThreeTransportFailuresInARow(t *testing.T) {
	const (
		ok        = checkOK
		plugin    = checkPluginError
		transport = checkTransportError
		healthy   = verdictHealthy
		unhealthy = verdictUnhealthy
		restart   = verdictRestart
	)
	tests := []struct {
		name    string
		results []checkResult
		want    []verdict
	}{
		{"healthy", []checkResult{ok, ok}, []verdict{healthy, healthy}},
		{"plugin errors never restart", []checkResult{plugin, plugin, plugin, plugin}, []verdict{unhealthy, unhealthy, unhealthy, unhealthy}},
		{"three transport failures restart", []checkResult{transport, transport, transport}, []verdict{unhealthy, unhealthy, restart}},
		{"an answer in between resets the count", []checkResult{transport, transport, ok, transport, transport, plugin, transport}, []verdict{unhealthy, unhealthy, healthy, unhealthy, unhealthy, unhealthy, unhealthy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h healthTracker
			for i, r := range tt.results {
				if got := h.observe(r); got != tt.want[i] {
					t.Fatalf("check %d: verdict %d, want %d", i+1, got, tt.want[i])
				}
			}
		})
	}
}

func TestHealthTimeoutIsIntervalCappedAt5s(t *testing.T) {
	tests := []struct{ interval, want time.Duration }{
		{time.Second, time.Second},
		{5 * time.Second, 5 * time.Second},
		{30 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.interval.String(), func(t *testing.T) {
			if got := healthTimeout(tt.interval); got != tt.want {
				t.Fatalf("healthTimeout(%s) = %s, want %s", tt.interval, got, tt.want)
			}
		})
	}
}
