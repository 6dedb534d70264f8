package runtime

import (
	"testing"
	"time"
)

func TestCPUPercentIsCPUTimeOverWallTimeWithOneBusyCPUAt100(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration, cpu uint64) *Stats {
		return &Stats{Time: t0.Add(d), Known: StatsCPU, CPUNanos: cpu}
	}
	cases := []struct {
		name      string
		prev, cur *Stats
		want      float64
	}{
		{"one busy CPU", at(0, 1e9), at(time.Second, 2e9), 100},
		{"two busy CPUs", at(0, 0), at(2*time.Second, 4e9), 200},
		{"a quarter of a CPU", at(0, 0), at(4*time.Second, 1e9), 25},
		{"idle", at(0, 5), at(time.Second, 5), 0},
		{"no time passed", at(time.Second, 0), at(time.Second, 1e9), 0},
		{"samples out of order", at(time.Second, 0), at(0, 1e9), 0},
		{"counter went back (restart)", at(0, 9e9), at(time.Second, 1e9), 0},
		{"no previous sample", nil, at(time.Second, 1e9), 0},
		{"CPU not known", &Stats{Time: t0}, at(time.Second, 1e9), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CPUPercent(tc.prev, tc.cur); got != tc.want {
				t.Errorf("CPUPercent = %v, want %v", got, tc.want)
			}
		})
	}
}
