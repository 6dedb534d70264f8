package runtime

// CPUPercent is a container's CPU use between two samples of it, prev
// taken before cur: the CPU time it used over the time that passed, times
// 100, so that one busy CPU is 100 and a container busy on two CPUs is 200
// (the scale `docker stats` shows). It is 0 when either sample lacks CPU
// time, when no time passed, or when the counter went back (the container
// restarted between the samples).
func CPUPercent(prev, cur *Stats) float64 {
	if prev == nil || cur == nil || !prev.Known.Has(StatsCPU) || !cur.Known.Has(StatsCPU) {
		return 0
	}
	wall := cur.Time.Sub(prev.Time)
	if wall <= 0 || cur.CPUNanos < prev.CPUNanos {
		return 0
	}
	return float64(cur.CPUNanos-prev.CPUNanos) / float64(wall.Nanoseconds()) * 100
}
