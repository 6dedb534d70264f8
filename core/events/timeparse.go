package events

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hiveorch/hive/core/errdefs"
)

// ParseTime parses a since or until value: an RFC 3339 time
// (2026-12-08T01:02:03Z), Unix seconds with an optional fraction
// (1765155723.5), or, when ago is true, a duration before now (10m, 1h30m)
// as docker events takes. flag names the value in the error.
func ParseTime(flag, s string, now time.Time, ago bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < math.MaxInt32*4 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	if ago {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			return now.Add(-d).UTC(), nil
		}
		return time.Time{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s %q: want an RFC 3339 time (2026-12-08T01:02:03Z), Unix seconds (1765155723) or a duration ago (10m)", flag, s)
	}
	return time.Time{}, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid %s %q: want an RFC 3339 time (2026-12-08T01:02:03Z) or Unix seconds (1765155723)", flag, s)
}
