package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/internal/testutil"
)

// TestStatsOfAServiceOverTheAPI proves GET /v1/stats reaches the node's
// runtime: one frame of a row per running task with memory, its limit and
// the CPU use of two samples, a stream of several frames, and an unknown
// service as not found.
func TestStatsOfAServiceOverTheAPI(t *testing.T) {
	b := backend(t)
	c := start(t, b)
	ctx := context.Background()
	if _, err := c.CreateService(ctx, spec("web", 3)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "web runs 3 tasks", func() bool {
		sums, err := c.ListServices(ctx)
		return err == nil && len(sums) == 1 && sums[0].RunningTasks == 3
	})
	var frames []api.StatsFrame
	err := c.Stats(ctx, api.StatsOptions{Services: []string{"web"}}, func(f api.StatsFrame) error {
		frames = append(frames, f)
		return nil
	})
	if err != nil || len(frames) != 1 || len(frames[0].Tasks) != 3 {
		t.Fatalf("Stats = %+v, %v; want one frame of 3 rows", frames, err)
	}
	for _, r := range frames[0].Tasks {
		if r.Error != "" || r.MemoryBytes == 0 || r.MemoryLimit == 0 || r.CPUPercent <= 0 || r.PIDs == 0 ||
			!r.Knows(api.StatsNetwork) || r.Knows(api.StatsBlockIO) || r.NodeHostname != "laptop" {
			t.Errorf("row %+v; want memory, a limit, CPU use, PIDs and network from the fake runtime", r)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	err = c.Stats(sctx, api.StatsOptions{Stream: true}, func(f api.StatsFrame) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if n < 3 {
		t.Fatalf("streaming Stats = %d frames, %v; want 3 and more", n, err)
	}
	err = c.Stats(ctx, api.StatsOptions{Services: []string{"nope"}}, func(api.StatsFrame) error { return nil })
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Stats of an unknown service = %v, want not found", err)
	}
}
