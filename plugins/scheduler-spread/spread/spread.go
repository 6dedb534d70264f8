package spread

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

const (
	// Name is the plugin's name, as Describe reports it.
	Name = "scheduler-spread"
	// Version is the plugin's own version.
	Version = "0.1.0"
	// StrategySpread is the only value the "strategy" setting accepts.
	StrategySpread = "spread"

	settingStrategy = "strategy"
)

// capabilities are the optional features Describe advertises.
var capabilities = []string{"constraints", "resources", "host-ports", "spread"}

// Scheduler is the spread scheduler. It holds no state between calls, so
// its methods are safe for concurrent use.
type Scheduler struct {
	logger *slog.Logger
}

var _ scheduler.Scheduler = (*Scheduler)(nil)

// New returns a spread scheduler that logs to logger (nil discards logs).
func New(logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{logger: logger}
}

// Describe returns the plugin's identity.
func (s *Scheduler) Describe(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:         Name,
		Kind:         sdk.KindScheduler,
		Version:      Version,
		Capabilities: slices.Clone(capabilities),
	}, nil
}

// Configure checks the plugin's settings. The only setting is "strategy",
// optional, whose only value is "spread"; anything else is an error
// wrapping sdk.ErrInvalidArgument that names the bad key. Keys are checked
// in sorted order so the error is the same on every call.
func (s *Scheduler) Configure(ctx context.Context, settings map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		value := settings[key]
		switch key {
		case settingStrategy:
			if value != StrategySpread {
				return fmt.Errorf("configure %s: setting %q is %q, but the only allowed value is %q; set it to %q or remove it: %w",
					Name, key, value, StrategySpread, StrategySpread, sdk.ErrInvalidArgument)
			}
		default:
			return fmt.Errorf("configure %s: unknown setting %q; the only setting is %q (allowed value: %q), remove the others: %w",
				Name, key, settingStrategy, StrategySpread, sdk.ErrInvalidArgument)
		}
	}
	s.logger.Debug("configured", "strategy", StrategySpread)
	return nil
}

// Health always reports the scheduler healthy: it depends on nothing
// outside its process.
func (s *Scheduler) Health(ctx context.Context) error {
	return nil
}
