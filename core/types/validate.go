package types

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/hiveorch/hive/plugins/sdk/scheduler"
)

// MaxReplicas bounds a replicated service's replicas, to catch typos
// (--replicas 1000000) before they flood the store.
const MaxReplicas = 10000

var (
	serviceNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$`)
	volumeNameRE  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	signalRE      = regexp.MustCompile(`^(SIG)?[A-Z][A-Z0-9+-]*$|^[0-9]{1,2}$`)
)

// ValidateServiceName checks a service name: letters, digits, '-' and
// '_', starting with a letter or digit, at most 63 characters. Dots are not
// allowed because task names are "NAME.SLOT".
func ValidateServiceName(name string) error {
	if !serviceNameRE.MatchString(name) {
		return fmt.Errorf("invalid service name %q: use up to 63 letters, digits, '-' or '_', starting with a letter or digit", name)
	}
	return nil
}

// Normalize fills the defaults a spec leaves out: mode replicated,
// restart condition any, endpoint mode vip, port protocol tcp and publish
// mode ingress, dependency condition service_started.
func (s *ServiceSpec) Normalize() {
	if s.Mode == "" {
		s.Mode = ModeReplicated
	}
	if s.Endpoint.Mode == "" {
		s.Endpoint.Mode = EndpointVIP
	}
	if s.Task.RestartPolicy.Condition == "" {
		s.Task.RestartPolicy.Condition = RestartAny
	}
	for i := range s.Endpoint.Ports {
		p := &s.Endpoint.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if p.PublishMode == "" {
			p.PublishMode = PublishIngress
		}
	}
	for i := range s.Task.Container.Mounts {
		if s.Task.Container.Mounts[i].Type == "" {
			s.Task.Container.Mounts[i].Type = MountVolume
		}
	}
	for i := range s.Task.Container.Secrets {
		r := &s.Task.Container.Secrets[i]
		r.File.normalize(r.SecretName)
	}
	for i := range s.Task.Container.Configs {
		r := &s.Task.Container.Configs[i]
		def := ""
		if r.ConfigName != "" {
			def = "/" + r.ConfigName
		}
		r.File.normalize(def)
	}
	for i := range s.DependsOn {
		if s.DependsOn[i].Condition == "" {
			s.DependsOn[i].Condition = DependencyStarted
		}
	}
	s.Update = normalizeUpdate(s.Update)
	s.Rollback = normalizeUpdate(s.Rollback)
}

// normalizeUpdate fills an update policy's defaults: all of them when it
// is nil, else failure action pause, monitor 5s and order stop-first when
// left out. A parallelism of 0 is kept: it means all at once.
func normalizeUpdate(c *UpdateConfig) *UpdateConfig {
	if c == nil {
		return DefaultUpdateConfig()
	}
	if c.FailureAction == "" {
		c.FailureAction = FailurePause
	}
	if c.Monitor == nil {
		m := DefaultUpdateMonitor
		c.Monitor = &m
	}
	if c.Order == "" {
		c.Order = OrderStopFirst
	}
	return c
}

// Validate checks a normalized spec and returns every problem found, each
// saying what to fix. It does not check things that need the cluster's
// state (name and port conflicts).
func (s *ServiceSpec) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := ValidateServiceName(s.Name); err != nil {
		errs = append(errs, err)
	}
	switch s.Mode {
	case ModeReplicated:
		if s.Replicas > MaxReplicas {
			add("invalid replicas %d: at most %d", s.Replicas, MaxReplicas)
		}
	case ModeGlobal:
		if s.Replicas != 0 {
			add("replicas cannot be set for a global service (it runs one task per node)")
		}
	default:
		add("invalid mode %q: use replicated or global", s.Mode)
	}
	errs = append(errs, validateLabels("label", s.Labels)...)
	errs = append(errs, s.Task.validate()...)
	errs = append(errs, validatePorts(s.Endpoint.Ports)...)
	errs = append(errs, s.validateNetworks()...)
	errs = append(errs, s.Update.validate("update", s.Endpoint.Ports)...)
	errs = append(errs, s.Rollback.validate("rollback", s.Endpoint.Ports)...)
	errs = append(errs, s.validateDependsOn()...)
	if s.RegistryAuth != nil {
		if err := s.RegistryAuth.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validateDependsOn checks the service's dependencies: each names another
// service, once, with one of compose's three conditions. Whether the
// services exist, and whether they form a cycle, needs the other specs
// (core/orchestrator/depends.Cycle).
func (s *ServiceSpec) validateDependsOn() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	seen := map[string]bool{}
	for i, d := range s.DependsOn {
		switch {
		case d.Service == "":
			add("invalid depends_on entry %d: it names no service; give the name of the service to wait for", i+1)
		case d.Service == s.Name:
			add("invalid depends_on service %q: a service cannot depend on itself", d.Service)
		case seen[d.Service]:
			add("invalid depends_on service %q: it is listed twice; list each service once, with one condition", d.Service)
		default:
			if err := ValidateServiceName(d.Service); err != nil {
				add("depends_on: %w", err)
			}
		}
		seen[d.Service] = true
		switch d.Condition {
		case DependencyStarted, DependencyHealthy, DependencyCompleted:
		default:
			add("invalid depends_on condition %q for service %q: use %s, %s or %s",
				d.Condition, d.Service, DependencyStarted, DependencyHealthy, DependencyCompleted)
		}
	}
	return errs
}

// validate checks an update (what "update") or rollback policy; nil is
// the default and valid.
func (c *UpdateConfig) validate(what string, ports []PortConfig) []error {
	if c == nil {
		return nil
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.FailureAction {
	case FailurePause, FailureContinue:
	case FailureRollback:
		if what == "rollback" {
			add("invalid rollback failure action %q: a rollback cannot roll back; use pause or continue", c.FailureAction)
		}
	default:
		if what == "rollback" {
			add("invalid rollback failure action %q: use pause or continue", c.FailureAction)
		} else {
			add("invalid %s failure action %q: use pause, continue or rollback", what, c.FailureAction)
		}
	}
	if c.Delay < 0 {
		add("invalid %s delay %s: it cannot be negative", what, c.Delay)
	}
	if c.Monitor != nil && *c.Monitor < 0 {
		add("invalid %s monitor %s: it cannot be negative", what, c.Monitor)
	}
	if c.MaxFailureRatio < 0 || c.MaxFailureRatio > 1 {
		add("invalid %s max failure ratio %g: use a fraction from 0 to 1", what, c.MaxFailureRatio)
	}
	switch c.Order {
	case OrderStopFirst:
	case OrderStartFirst:
		for _, p := range ports {
			if p.PublishMode == PublishHost {
				add("%s order start-first cannot be used with host-mode port %d: the new task could not bind it while the old one runs; use stop-first", what, p.PublishedPort)
				break
			}
		}
	default:
		add("invalid %s order %q: use stop-first or start-first", what, c.Order)
	}
	return errs
}

func (t *TaskSpec) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c := &t.Container

	if c.Image == "" {
		add("an image is required")
	} else if err := ValidateImage(c.Image); err != nil {
		errs = append(errs, err)
	}
	for _, e := range c.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" || strings.ContainsAny(k, " \t\n") {
			add("invalid environment variable %q: use KEY=VALUE", e)
		}
	}
	errs = append(errs, validateLabels("container label", c.Labels)...)
	if c.Dir != "" && !path.IsAbs(c.Dir) {
		add("invalid working directory %q: it must be an absolute path", c.Dir)
	}
	if c.Hostname != "" {
		if err := ValidateHostname(c.Hostname); err != nil {
			errs = append(errs, err)
		}
	}
	if c.StopSignal != "" && !signalRE.MatchString(c.StopSignal) {
		add("invalid stop signal %q: use a signal name such as SIGTERM or a number", c.StopSignal)
	}
	if c.StopGracePeriod != nil && *c.StopGracePeriod < 0 {
		add("invalid stop grace period %s: it cannot be negative", c.StopGracePeriod)
	}
	errs = append(errs, c.Healthcheck.validate()...)
	targets := map[string]bool{}
	for _, m := range c.Mounts {
		errs = append(errs, m.validate()...)
		if targets[m.Target] {
			add("duplicate mount target %q: each mount needs its own target", m.Target)
		}
		targets[m.Target] = true
	}
	errs = append(errs, validateSecretRefs(c.Secrets)...)
	errs = append(errs, validateConfigRefs(c.Configs)...)

	r := t.Resources
	for _, x := range []struct {
		name string
		v    int64
	}{{"CPU limit", r.Limits.NanoCPUs}, {"memory limit", r.Limits.MemoryBytes}, {"CPU reservation", r.Reservations.NanoCPUs}, {"memory reservation", r.Reservations.MemoryBytes}} {
		if x.v < 0 {
			add("invalid %s %d: it cannot be negative", x.name, x.v)
		}
	}
	if r.Limits.MemoryBytes > 0 && r.Limits.MemoryBytes < 6*1024*1024 {
		add("invalid memory limit %d bytes: the engine needs at least 6MB", r.Limits.MemoryBytes)
	}
	if r.Limits.NanoCPUs > 0 && r.Reservations.NanoCPUs > r.Limits.NanoCPUs {
		add("CPU reservation exceeds the CPU limit")
	}
	if r.Limits.MemoryBytes > 0 && r.Reservations.MemoryBytes > r.Limits.MemoryBytes {
		add("memory reservation exceeds the memory limit")
	}

	p := t.RestartPolicy
	switch p.Condition {
	case RestartNone, RestartOnFailure, RestartAny:
	default:
		add("invalid restart condition %q: use none, on-failure or any", p.Condition)
	}
	if p.Delay != nil && *p.Delay < 0 {
		add("invalid restart delay %s: it cannot be negative", p.Delay)
	}
	if p.Window != nil && *p.Window < 0 {
		add("invalid restart window %s: it cannot be negative", p.Window)
	}
	if _, err := scheduler.ParseConstraints(t.Placement.Constraints); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// validate checks a health check; nil keeps the image's and is valid.
func (h *HealthConfig) validate() []error {
	if h == nil {
		return nil
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
			if len(h.Test) > 1 || h.Interval != 0 || h.Timeout != 0 || h.StartPeriod != 0 || h.Retries != 0 {
				add("a disabled health check (NONE) takes no command, interval, timeout, start period or retries")
			}
		case "CMD", "CMD-SHELL":
			if len(h.Test) < 2 || strings.TrimSpace(strings.Join(h.Test[1:], "")) == "" {
				add("health check %s has no command: give the command to run", h.Test[0])
			}
		default:
			add("invalid health check test %q: start it with CMD, CMD-SHELL or NONE", h.Test)
		}
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}} {
		if d.v < 0 || (d.v > 0 && d.v < Duration(time.Millisecond)) {
			add("invalid health check %s %s: use at least 1ms, or 0 for the default", d.name, d.v)
		}
	}
	if h.StartPeriod < 0 {
		add("invalid health check start period %s: it cannot be negative", h.StartPeriod)
	}
	if h.Retries < 0 {
		add("invalid health check retries %d: it cannot be negative", h.Retries)
	}
	return errs
}

// ValidateImage checks an image reference the way the engines do. The
// reference parser reads an uppercase first component ("Web/app") as a
// registry host, which engines refuse, so that is checked too.
func ValidateImage(image string) error {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Errorf("invalid image reference %q: %v", image, err)
	}
	if d := reference.Domain(named); d != strings.ToLower(d) {
		return fmt.Errorf("invalid image reference %q: repository name must be lowercase", image)
	}
	return nil
}

func (m Mount) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m.Target == "" || !path.IsAbs(m.Target) {
		add("invalid mount target %q: it must be an absolute path in the container", m.Target)
	}
	switch m.Type {
	case MountBind:
		if !path.IsAbs(m.Source) {
			add("invalid bind mount source %q: it must be an absolute path on the node", m.Source)
		}
	case MountVolume:
		if m.Source != "" && !volumeNameRE.MatchString(m.Source) {
			add("invalid volume name %q: use letters, digits, '_', '.' or '-'", m.Source)
		}
	case MountTmpfs:
		if m.Source != "" {
			add("a tmpfs mount takes no source (got %q)", m.Source)
		}
	default:
		add("invalid mount type %q: use bind, volume or tmpfs", m.Type)
	}
	return errs
}

func validatePorts(ports []PortConfig) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	seen := map[string]bool{}
	for _, p := range ports {
		if p.TargetPort == 0 || p.TargetPort > 65535 {
			add("invalid target port %d: use 1-65535", p.TargetPort)
		}
		if p.PublishedPort > 65535 {
			add("invalid published port %d: use 1-65535", p.PublishedPort)
		}
		switch p.Protocol {
		case ProtocolTCP:
		case ProtocolUDP:
			if p.PublishMode == PublishIngress {
				add("port %d/udp: the routing mesh carries TCP only; publish UDP with mode=host", p.TargetPort)
			}
		default:
			add("invalid protocol %q: use tcp or udp", p.Protocol)
		}
		switch p.PublishMode {
		case PublishIngress:
		case PublishHost:
			if p.PublishedPort == 0 {
				add("port %d: mode=host needs a published port", p.TargetPort)
			}
		default:
			add("invalid publish mode %q: use ingress or host", p.PublishMode)
		}
		if p.PublishedPort != 0 {
			key := strconv.Itoa(int(p.PublishedPort)) + "/" + string(p.Protocol)
			if seen[key] {
				add("published port %s is listed twice", key)
			}
			seen[key] = true
		}
	}
	return errs
}

func validateLabels(what string, labels map[string]string) []error {
	var errs []error
	for k := range labels {
		if k == "" || strings.ContainsAny(k, " \t\n=") {
			errs = append(errs, fmt.Errorf("invalid %s key %q: it must be non-empty with no spaces or '='", what, k))
		}
	}
	return errs
}
