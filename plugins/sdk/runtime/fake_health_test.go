package runtime_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

func TestFakeHealthFollowsItsClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	check := &runtime.Healthcheck{Test: []string{"CMD", "/web", "healthcheck"}, Interval: time.Second, Retries: 2}
	tests := []struct {
		name  string
		spec  runtime.ContainerSpec
		image *runtime.Healthcheck
		// want is the health after 0.5s, 1s, 2s and 3s.
		want [4]string
	}{
		{"no check", runtime.ContainerSpec{}, nil, [4]string{"", "", "", ""}},
		{"passing check", runtime.ContainerSpec{Healthcheck: check}, nil,
			[4]string{"starting", "healthy", "healthy", "healthy"}},
		{"failing check", runtime.ContainerSpec{Healthcheck: check, Env: []string{"UNHEALTHY=1"}}, nil,
			[4]string{"starting", "starting", "unhealthy", "unhealthy"}},
		{"failing check with a start period", runtime.ContainerSpec{Env: []string{"UNHEALTHY=1"},
			Healthcheck: &runtime.Healthcheck{Test: check.Test, Interval: time.Second, Retries: 2, StartPeriod: 2 * time.Second}}, nil,
			[4]string{"starting", "starting", "starting", "unhealthy"}},
		{"a program that does not serve fails", runtime.ContainerSpec{Args: []string{"sleep"}, Healthcheck: check}, nil,
			[4]string{"starting", "starting", "unhealthy", "unhealthy"}},
		{"the image's check", runtime.ContainerSpec{}, check,
			[4]string{"starting", "healthy", "healthy", "healthy"}},
		{"the image's test with the spec's interval", runtime.ContainerSpec{Healthcheck: &runtime.Healthcheck{Interval: 3 * time.Second}}, check,
			[4]string{"starting", "starting", "starting", "healthy"}},
		{"NONE disables the image's check", runtime.ContainerSpec{Healthcheck: &runtime.Healthcheck{Test: []string{"NONE"}}}, check,
			[4]string{"", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			f := newFake(t)
			f.SetClock(func() time.Time { return now })
			f.SetImageHealthcheck(testImage, tt.image)
			tt.spec.Name = "c"
			id := run(t, f, tt.spec)
			for i, at := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second} {
				now = start.Add(at)
				c, err := f.Inspect(ctxFor(t), id)
				if err != nil {
					t.Fatal(err)
				}
				if c.Health != tt.want[i] {
					t.Errorf("health after %s = %q, want %q", at, c.Health, tt.want[i])
				}
				if (c.Health == runtime.HealthUnhealthy) != (c.HealthLog != "") {
					t.Errorf("health after %s = %q with log %q: want a log exactly when unhealthy", at, c.Health, c.HealthLog)
				}
			}
			if err := f.Exit(id, 0); err != nil {
				t.Fatal(err)
			}
			if c, _ := f.Inspect(ctxFor(t), id); c.Health != "" {
				t.Errorf("health of an exited container = %q, want none", c.Health)
			}
		})
	}
}

func TestFakeSetHealth(t *testing.T) {
	f := newFake(t)
	check := &runtime.Healthcheck{Test: []string{"CMD", "/web", "healthcheck"}, Interval: time.Hour}
	id := run(t, f, runtime.ContainerSpec{Name: "c", Healthcheck: check})
	if err := f.SetHealth(id, runtime.HealthUnhealthy, "check timed out"); err != nil {
		t.Fatal(err)
	}
	c, _ := f.Inspect(ctxFor(t), id)
	if c.Health != runtime.HealthUnhealthy || c.HealthLog != "check timed out" {
		t.Errorf("after SetHealth: health %q log %q", c.Health, c.HealthLog)
	}
	list, _ := f.List(ctxFor(t), runtime.ListFilter{})
	if len(list) != 1 || list[0].Health != runtime.HealthUnhealthy {
		t.Errorf("List after SetHealth = %+v", list)
	}
	// A new run forgets the forced result.
	if err := f.Exit(id, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctxFor(t), id); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.Inspect(ctxFor(t), id); c.Health != runtime.HealthStarting {
		t.Errorf("after a restart: health %q, want starting", c.Health)
	}

	plain := run(t, f, runtime.ContainerSpec{Name: "plain"})
	for _, tc := range []struct {
		id, health string
		want       error
	}{
		{id, "sick", sdk.ErrInvalidArgument},
		{plain, runtime.HealthHealthy, sdk.ErrFailedPrecondition},
		{"nope", runtime.HealthHealthy, sdk.ErrNotFound},
	} {
		if err := f.SetHealth(tc.id, tc.health, ""); !errors.Is(err, tc.want) {
			t.Errorf("SetHealth(%s, %q) = %v, want %v", tc.id, tc.health, err, tc.want)
		}
	}
}
