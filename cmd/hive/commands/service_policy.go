package commands

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/types"
)

// policyOptions are the raw values of the update, rollback and health-check
// flags that service create and service update share.
type policyOptions struct {
	update, rollback  updateFlags
	healthCmd         string
	healthInterval    string
	healthTimeout     string
	healthStartPeriod string
	healthRetries     int
	noHealthcheck     bool
}

// updateFlags are the flags of one update policy: --update-* or
// --rollback-*.
type updateFlags struct {
	prefix        string // "update" or "rollback"
	parallelism   uint64
	delay         string
	failureAction string
	monitor       string
	maxFailure    string
	order         string
}

func (o *policyOptions) addFlags(fs *pflag.FlagSet) {
	o.update.add(fs, "update", "pause, continue or rollback")
	o.rollback.add(fs, "rollback", "pause or continue")
	fs.StringVar(&o.healthCmd, "health-cmd", "", "check the task's health by running `COMMAND` with the container's shell (exit 0: healthy)")
	fs.StringVar(&o.healthInterval, "health-interval", "", "run the health check every `DURATION` (default 30s)")
	fs.StringVar(&o.healthTimeout, "health-timeout", "", "give a health check at most `DURATION` (default 30s)")
	fs.StringVar(&o.healthStartPeriod, "health-start-period", "", "ignore failed health checks for `DURATION` after the start (default 0s)")
	fs.IntVar(&o.healthRetries, "health-retries", 0, "count a task unhealthy after `N` failed health checks in a row (default 3)")
	fs.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "disable any health check, the image's included")
}

func (u *updateFlags) add(fs *pflag.FlagSet, prefix, actions string) {
	u.prefix = prefix
	what := prefix
	fs.Uint64Var(&u.parallelism, prefix+"-parallelism", types.DefaultUpdateParallelism, "let the "+what+" replace `N` tasks at once (0: all at once)")
	fs.StringVar(&u.delay, prefix+"-delay", "", "wait `DURATION` after a batch ran (and was monitored) before the next one (default 0s)")
	fs.StringVar(&u.failureAction, prefix+"-failure-action", "", "do `ACTION` when too many new tasks fail: "+actions+" (default pause)")
	fs.StringVar(&u.monitor, prefix+"-monitor", "", "watch each batch's new tasks for failure for `DURATION` once they run (default 5s)")
	fs.StringVar(&u.maxFailure, prefix+"-max-failure-ratio", "", "let a fraction `RATIO` (0 to 1) of the tasks fail before the failure action (default 0)")
	fs.StringVar(&u.order, prefix+"-order", "", "replace a slot's task in `ORDER`: stop-first or start-first (default stop-first)")
}

// changed reports whether any flag of the policy was given.
func (u *updateFlags) changed(fs *pflag.FlagSet) bool {
	for _, f := range []string{"parallelism", "delay", "failure-action", "monitor", "max-failure-ratio", "order"} {
		if flagChanged(fs, u.prefix+"-"+f) {
			return true
		}
	}
	return false
}

// apply sets the policy's given flags on cfg (nil: the defaults) and
// returns it.
func (u *updateFlags) apply(fs *pflag.FlagSet, cfg *types.UpdateConfig) (*types.UpdateConfig, error) {
	if !u.changed(fs) {
		return cfg, nil
	}
	if cfg == nil {
		cfg = types.DefaultUpdateConfig()
	} else {
		c := *cfg
		cfg = &c
	}
	flag := func(name string) string { return u.prefix + "-" + name }
	if flagChanged(fs, flag("parallelism")) {
		cfg.Parallelism = u.parallelism
	}
	for _, d := range []struct {
		name, value string
		set         func(types.Duration)
	}{
		{"delay", u.delay, func(v types.Duration) { cfg.Delay = v }},
		{"monitor", u.monitor, func(v types.Duration) { cfg.Monitor = &v }},
	} {
		if !flagChanged(fs, flag(d.name)) {
			continue
		}
		v, err := parseDuration(flag(d.name), d.value)
		if err != nil {
			return nil, err
		}
		d.set(v)
	}
	if flagChanged(fs, flag("failure-action")) {
		switch a := types.FailureAction(u.failureAction); {
		case a == types.FailurePause, a == types.FailureContinue, a == types.FailureRollback && u.prefix == "update":
			cfg.FailureAction = a
		case u.prefix == "rollback":
			return nil, fmt.Errorf("invalid --%s %q: want pause or continue (a rollback is not rolled back)", flag("failure-action"), u.failureAction)
		default:
			return nil, fmt.Errorf("invalid --%s %q: want pause, continue or rollback", flag("failure-action"), u.failureAction)
		}
	}
	if flagChanged(fs, flag("max-failure-ratio")) {
		r, err := strconv.ParseFloat(u.maxFailure, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("invalid --%s %q: want a fraction from 0 to 1, such as 0.2", flag("max-failure-ratio"), u.maxFailure)
		}
		cfg.MaxFailureRatio = r
	}
	if flagChanged(fs, flag("order")) {
		switch o := types.UpdateOrder(u.order); o {
		case types.OrderStopFirst, types.OrderStartFirst:
			cfg.Order = o
		default:
			return nil, fmt.Errorf("invalid --%s %q: want stop-first or start-first", flag("order"), u.order)
		}
	}
	return cfg, nil
}

// healthChanged reports whether a health-check flag was given.
func healthChanged(fs *pflag.FlagSet) bool {
	for _, f := range []string{"health-cmd", "health-interval", "health-timeout", "health-start-period", "health-retries", "no-healthcheck"} {
		if flagChanged(fs, f) {
			return true
		}
	}
	return false
}

// applyHealth sets the given health-check flags on h (nil: the image's
// check) and returns the result.
func (o *policyOptions) applyHealth(fs *pflag.FlagSet, h *types.HealthConfig) (*types.HealthConfig, error) {
	if !healthChanged(fs) {
		return h, nil
	}
	if o.noHealthcheck {
		for _, f := range []string{"health-cmd", "health-interval", "health-timeout", "health-start-period", "health-retries"} {
			if flagChanged(fs, f) {
				return nil, fmt.Errorf("--no-healthcheck conflicts with --%s: leave one of them out", f)
			}
		}
		return &types.HealthConfig{Test: []string{"NONE"}}, nil
	}
	out := &types.HealthConfig{}
	if h != nil && !h.Disabled() {
		c := *h
		out = &c
	}
	if flagChanged(fs, "health-cmd") {
		if o.healthCmd == "" {
			return nil, fmt.Errorf("invalid --health-cmd: it is empty; give the command to run, or use --no-healthcheck")
		}
		out.Test = []string{"CMD-SHELL", o.healthCmd}
	}
	for _, d := range []struct {
		flag, value string
		dst         *types.Duration
	}{
		{"health-interval", o.healthInterval, &out.Interval},
		{"health-timeout", o.healthTimeout, &out.Timeout},
		{"health-start-period", o.healthStartPeriod, &out.StartPeriod},
	} {
		if !flagChanged(fs, d.flag) {
			continue
		}
		v, err := parseDuration(d.flag, d.value)
		if err != nil {
			return nil, err
		}
		if d.flag != "health-start-period" && v != 0 && v.D() < 1e6 {
			return nil, fmt.Errorf("invalid --%s %s: use at least 1ms", d.flag, d.value)
		}
		*d.dst = v
	}
	if flagChanged(fs, "health-retries") {
		if o.healthRetries < 0 {
			return nil, fmt.Errorf("invalid --health-retries %d: want 0 or more", o.healthRetries)
		}
		out.Retries = o.healthRetries
	}
	return out, nil
}

// apply sets every given policy and health flag on s.
func (o *policyOptions) apply(fs *pflag.FlagSet, s *types.ServiceSpec) error {
	var err error
	if s.Update, err = o.update.apply(fs, s.Update); err != nil {
		return err
	}
	if s.Rollback, err = o.rollback.apply(fs, s.Rollback); err != nil {
		return err
	}
	s.Task.Container.Healthcheck, err = o.applyHealth(fs, s.Task.Container.Healthcheck)
	return err
}
