package store

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
)

// raftLevel re-levels hashicorp/raft's log: it is chatty at info (every
// election, every snapshot), so Info goes to Debug; warnings and errors keep
// their level, except the election every manager holds after it starts.
func raftLevel(level hclog.Level, msg string, args []any) hclog.Level {
	switch level {
	case hclog.Info, hclog.NoLevel:
		return hclog.Debug
	case hclog.Warn:
		return demote(level, msg, args)
	}
	return level
}

// firstElection is the warning raft logs before each election it starts.
const firstElection = "heartbeat timeout reached, starting election"

// demote lowers raft's election warning to debug when no leader was known
// before: that is the election every manager holds after it starts, which
// is no cause for alarm. A later election (a leader was lost) stays a
// warning.
func demote(level hclog.Level, msg string, args []any) hclog.Level {
	if level != hclog.Warn || msg != firstElection {
		return level
	}
	for i := 0; i+1 < len(args); i += 2 {
		if fmt.Sprint(args[i]) == "last-leader-addr" && fmt.Sprint(args[i+1]) == "" {
			return hclog.Debug
		}
	}
	return level
}
