package pluginhost

import "time"

// Restart and health-check tuning. The backoff doubles from backoffBase up
// to backoffMax; a plugin that ran for resetAfter before going down starts
// over at backoffBase.
const (
	backoffBase       = time.Second
	backoffMax        = 30 * time.Second
	resetAfter        = 60 * time.Second
	maxHealthTimeout  = 5 * time.Second
	transportStrikes  = 3
	handshakeTimeout  = 30 * time.Second
	defaultHealthTick = 10 * time.Second
)

// backoff computes the wait before each restart of one plugin. It is pure:
// the supervisor feeds it how long the last process ran.
type backoff struct {
	base, max, reset time.Duration
	// failures counts restarts since the plugin last ran for reset.
	failures int
}

func newBackoff() *backoff {
	return &backoff{base: backoffBase, max: backoffMax, reset: resetAfter}
}

// next returns the delay before the next start, given how long the process
// that just went down had been up (zero for a start that failed).
func (b *backoff) next(uptime time.Duration) time.Duration {
	if uptime >= b.reset {
		b.failures = 0
	}
	d := b.base
	for i := 0; i < b.failures && d < b.max; i++ {
		d *= 2
	}
	b.failures++
	return min(d, b.max)
}

// checkResult is the outcome of one health check.
type checkResult int

const (
	// checkOK: Health returned nil.
	checkOK checkResult = iota
	// checkPluginError: the plugin answered that something is wrong (its
	// engine is unreachable, say); the process itself is fine.
	checkPluginError
	// checkTransportError: the plugin did not answer in time or its
	// connection is broken.
	checkTransportError
)

// verdict is what the supervisor does after a health check.
type verdict int

const (
	verdictHealthy verdict = iota
	verdictUnhealthy
	verdictRestart
)

// healthTracker turns a series of health-check results into verdicts: a
// plugin error marks the plugin unhealthy, transportStrikes transport
// errors in a row restart it.
type healthTracker struct {
	strikes int
}

func (h *healthTracker) observe(r checkResult) verdict {
	switch r {
	case checkOK:
		h.strikes = 0
		return verdictHealthy
	case checkPluginError:
		h.strikes = 0
		return verdictUnhealthy
	default:
		h.strikes++
		if h.strikes >= transportStrikes {
			return verdictRestart
		}
		return verdictUnhealthy
	}
}

// healthTimeout is how long one health check may take.
func healthTimeout(interval time.Duration) time.Duration {
	return min(interval, maxHealthTimeout)
}
