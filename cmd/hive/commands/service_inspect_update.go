package commands

import (
	"fmt"
	"strings"
	"time"

	"github.com/hiveorch/hive/core/types"
)

// keyValue writes one "Key: value" line of service inspect --pretty.
type keyValue func(indent int, key string, value any)

// prettyUpdateStatus shows the state of the service's last update.
func prettyUpdateStatus(kv keyValue, b *strings.Builder, st *types.UpdateStatus, now time.Time) {
	if st == nil {
		return
	}
	b.WriteString("UpdateStatus:\n")
	kv(1, "State", st.State)
	if !st.StartedAt.IsZero() {
		kv(1, "Started", ago(now, st.StartedAt))
	}
	if !st.CompletedAt.IsZero() {
		kv(1, "Completed", ago(now, st.CompletedAt))
	}
	if st.Message != "" {
		kv(1, "Message", st.Message)
	}
}

// prettyUpdateConfig shows an update or rollback policy, as docker does.
func prettyUpdateConfig(kv keyValue, b *strings.Builder, title, orderKey string, c *types.UpdateConfig) {
	if c == nil {
		c = types.DefaultUpdateConfig()
	}
	b.WriteString(title + ":\n")
	kv(1, "Parallelism", c.Parallelism)
	if c.Delay != 0 {
		kv(1, "Delay", c.Delay)
	}
	kv(1, "On failure", c.FailureAction)
	kv(1, "Monitoring Period", types.Duration(c.MonitorPeriod()))
	kv(1, "Max failure ratio", c.MaxFailureRatio)
	kv(1, orderKey, c.Order)
}

// prettyHealthcheck shows the task's health check, when it sets one.
func prettyHealthcheck(kv keyValue, h *types.HealthConfig) {
	switch {
	case h == nil:
		return
	case h.Disabled():
		kv(1, "Healthcheck", "disabled")
		return
	}
	test := "the image's"
	if len(h.Test) > 0 {
		test = strings.Join(h.Test, " ")
	}
	var opts []string
	for _, o := range []struct {
		name string
		v    types.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start period", h.StartPeriod}} {
		if o.v != 0 {
			opts = append(opts, fmt.Sprintf("%s %s", o.name, o.v))
		}
	}
	if h.Retries != 0 {
		opts = append(opts, fmt.Sprintf("retries %d", h.Retries))
	}
	if len(opts) > 0 {
		test += " (" + strings.Join(opts, ", ") + ")"
	}
	kv(1, "Healthcheck", test)
}

// prettyPreviousSpec shows what a rollback would go back to: the previous
// spec's fields that differ from the current one.
func prettyPreviousSpec(kv keyValue, b *strings.Builder, s *types.Service) {
	p := s.PreviousSpec
	if p == nil {
		return
	}
	b.WriteString("PreviousSpec:\n")
	cur, prev := s.Spec.Task.Container, p.Task.Container
	diffs := 0
	show := func(key string, was, is any) {
		if fmt.Sprint(was) != fmt.Sprint(is) {
			kv(1, key, fmt.Sprint(was))
			diffs++
		}
	}
	show("Image", prev.Image, cur.Image)
	if p.Mode != types.ModeGlobal {
		show("Replicas", p.Replicas, s.Spec.Replicas)
	}
	show("Env", strings.Join(prev.Env, " "), strings.Join(cur.Env, " "))
	show("Args", strings.Join(prev.Args, " "), strings.Join(cur.Args, " "))
	show("Ports", formatPorts(p.Endpoint.Ports), formatPorts(s.Spec.Endpoint.Ports))
	if !p.Task.Equal(s.Spec.Task) && diffs == 0 {
		kv(1, "Task", "differs (see hive service inspect)")
		diffs++
	}
	if diffs == 0 {
		kv(1, "Changes", "none to the image, replicas, env, args, ports or tasks")
	}
}

// prettyEndpoint shows how the service is reached: its endpoint mode, the
// networks it is attached to with their aliases, and its virtual IP on
// each. names maps network IDs to names; a network it lacks shows as its
// short ID.
func prettyEndpoint(kv keyValue, b *strings.Builder, s *types.Service, names map[string]string) {
	name := func(id string) string { return orDefault(names[id], truncID(id)) }
	kv(0, "Endpoint Mode", orDefault(string(s.Spec.Endpoint.Mode), string(types.EndpointVIP)))
	if len(s.Spec.Networks) == 0 {
		return
	}
	nets := make([]string, len(s.Spec.Networks))
	for i, att := range s.Spec.Networks {
		nets[i] = name(att.Target)
		if len(att.Aliases) > 0 {
			nets[i] += " (aliases: " + strings.Join(att.Aliases, ", ") + ")"
		}
	}
	kv(0, "Networks", strings.Join(nets, ", "))
	if len(s.Endpoint.VirtualIPs) > 0 {
		b.WriteString("Virtual IPs:\n")
		for _, vip := range s.Endpoint.VirtualIPs {
			kv(1, name(vip.NetworkID), vip.Addr)
		}
	}
}

// prettyDependsOn shows the services a service's new tasks wait for, one
// "Depends on: db (service_healthy)" line each, in order.
func prettyDependsOn(kv keyValue, deps []types.ServiceDependency) {
	for _, d := range deps {
		cond := d.Condition
		if cond == "" {
			cond = types.DependencyStarted
		}
		kv(0, "Depends on", fmt.Sprintf("%s (%s)", d.Service, cond))
	}
}
