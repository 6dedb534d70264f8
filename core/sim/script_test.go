package sim

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/hiveorch/hive/core/agent"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// TestScripts runs the scripts in testdata/ (see the package
// documentation) and compares each command's output with the transcript;
// -rewrite writes the transcripts anew.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &script{}
		datadriven.RunTest(t, path, s.run)
	})
}

// script is the state of one script: its cluster, once built.
type script struct{ c *Cluster }

func (s *script) run(t *testing.T, d *datadriven.TestData) string {
	t.Helper()
	if d.Cmd != "cluster" && s.c == nil {
		d.Fatalf(t, "the first command must be cluster")
	}
	out, err := s.do(t, d)
	if err != nil {
		return "error: " + redact(err.Error()) + "\n"
	}
	if d.Cmd != "settle" && d.Cmd != "wait" && d.Cmd != "advance" {
		// Let the cluster react without moving time, and check it.
		s.c.Quiesce()
		if err := s.c.CheckSafety(); err != nil {
			d.Fatalf(t, "after %s: %v\n%s", d.Cmd, err, s.c.Describe())
		}
	}
	return out
}

// arg0 is the command's first argument, a name without a value.
func arg0(t *testing.T, d *datadriven.TestData) string {
	if len(d.CmdArgs) == 0 || len(d.CmdArgs[0].Vals) > 0 {
		d.Fatalf(t, "%s needs a name first", d.Cmd)
	}
	return d.CmdArgs[0].Key
}

func (s *script) node(t *testing.T, d *datadriven.TestData) int {
	i := s.c.NodeIndex(arg0(t, d))
	if i < 0 {
		d.Fatalf(t, "no node %s", arg0(t, d))
	}
	return i
}

func durArg(t *testing.T, d *datadriven.TestData, key string, def time.Duration) time.Duration {
	var v string
	if !d.MaybeScanArgs(t, key, &v) {
		return def
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return x
}

func (s *script) do(t *testing.T, d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "cluster":
		nodes, seed, history := 1, uint64(1), 0
		d.MaybeScanArgs(t, "nodes", &nodes)
		d.MaybeScanArgs(t, "seed", &seed)
		d.MaybeScanArgs(t, "history", &history)
		s.c = New(t, nodes, WithSeed(seed), WithTaskHistoryLimit(history))
		s.c.Start()
		return s.c.nodeTable(), nil
	case "create":
		spec := ReplicatedSpec(arg0(t, d), 1)
		if d.HasArg("global") {
			spec = GlobalSpec(spec.Name)
		}
		specArgs(t, d, &spec)
		_, err := s.c.control.CreateService(s.c.ctx, spec)
		return "", err
	case "update", "scale":
		return "", s.c.UpdateService(arg0(t, d), func(spec *types.ServiceSpec) { specArgs(t, d, spec) })
	case "rollback":
		_, err := s.c.control.RollbackService(s.c.ctx, arg0(t, d))
		return "", err
	case "network":
		spec := types.NetworkSpec{Name: arg0(t, d)}
		d.MaybeScanArgs(t, "subnet", &spec.Subnet)
		n, err := s.c.control.CreateNetwork(s.c.ctx, spec)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s vni=%d\n", n.Spec.Name, n.Subnet, n.VNI), nil
	case "addresses":
		return s.c.addressTable(d.CmdArgs), nil
	case "dataplane":
		return s.c.stableDataplane(), nil
	case "resolve":
		if len(d.CmdArgs) != 2 {
			d.Fatalf(t, "usage: resolve TASK NAME")
		}
		return s.c.resolve(d.CmdArgs[0].Key, d.CmdArgs[1].Key)
	case "remove":
		return "", s.c.control.RemoveService(s.c.ctx, arg0(t, d))
	case "kill-task":
		code := 1
		d.MaybeScanArgs(t, "exit", &code)
		for _, tk := range s.c.RunningTasks(strings.Split(arg0(t, d), ".")[0]) {
			if tk.Name() != arg0(t, d) {
				continue
			}
			if err := s.c.KillContainer(s.c.NodeIndex(tk.NodeID), tk.ID, code); err != nil {
				return "", err
			}
			// Let the store learn of it before the next command, so that
			// the orchestrator handles one ended task at a time.
			return "", s.c.Settle(func() bool { return s.c.taskEnded(tk.ID) }, time.Second)
		}
		return "", fmt.Errorf("no running task %s", arg0(t, d))
	case "drain", "activate", "pause":
		avail := map[string]types.Availability{"drain": types.AvailabilityDrain, "activate": types.AvailabilityActive, "pause": types.AvailabilityPause}
		return "", s.c.SetAvailability(s.node(t, d), avail[d.Cmd])
	case "label-node":
		labels := map[string]string{}
		for _, a := range d.CmdArgs[1:] {
			labels[a.Key] = a.Vals[0]
		}
		id := s.c.nodes[s.node(t, d)].ID
		return "", s.c.store.Update(s.c.ctx, func(tx store.Tx) error {
			n := tx.Node(id).Copy()
			n.Spec.Labels = labels
			return tx.UpdateNode(n)
		})
	case "add-node":
		return s.c.nodes[s.c.AddNode()].ID + "\n", nil
	case "lose-node":
		s.c.StopNode(s.node(t, d))
	case "start-node":
		s.c.StartNode(s.node(t, d))
	case "partition", "heal":
		s.c.Partition(s.node(t, d), d.Cmd == "partition")
	case "stop-leader":
		s.c.StopLeader()
	case "start-leader":
		s.c.StartLeader()
	case "advance":
		by, err := time.ParseDuration(arg0(t, d))
		if err != nil {
			d.Fatalf(t, "advance: %v", err)
		}
		return "", s.c.Advance(by)
	case "settle":
		s.c.MustSettle(s.c.Converged, durArg(t, d, "max", 30*time.Second))
		if err := s.c.CheckSettled(); err != nil {
			d.Fatalf(t, "invariants after settling: %v\n%s", err, s.c.Describe())
		}

	case "wait":
		return s.wait(t, d)
	case "tasks":
		return s.c.taskTable(d.CmdArgs), nil
	case "nodes":
		return s.c.nodeTable(), nil
	case "service":
		return s.c.serviceLine(arg0(t, d))
	case "slots":
		return s.c.slotLine(arg0(t, d)) + "\n", nil
	case "containers":
		return s.c.containerTable(), nil
	default:
		d.Fatalf(t, "unknown command %s", d.Cmd)
	}
	return "", nil
}

// wait settles until the named service's update is in a state
// (update=completed), or it runs a number of tasks (running=3). With
// trace, it prints each change of what the service's slots run.
func (s *script) wait(t *testing.T, d *datadriven.TestData) (string, error) {
	name := arg0(t, d)
	var want string
	var running int
	var cond func() bool
	switch {
	case d.MaybeScanArgs(t, "update", &want):
		cond = func() bool {
			svc, err := s.c.control.GetService(s.c.ctx, name)
			return err == nil && svc.UpdateStatus != nil && string(svc.UpdateStatus.State) == want
		}
	case d.MaybeScanArgs(t, "running", &running):
		cond = s.c.Running(name, running)
	default:
		d.Fatalf(t, "wait needs update= or running=")
	}
	var b strings.Builder
	start, last := s.c.Elapsed(), ""
	watch := cond
	if d.HasArg("trace") {
		watch = func() bool {
			if now := s.c.slotLine(name); now != last {
				fmt.Fprintf(&b, "%-8s %s\n", s.c.Elapsed()-start, now)
				last = now
			}
			return cond()
		}
	}
	if err := s.c.Settle(watch, durArg(t, d, "max", 60*time.Second)); err != nil {
		d.Fatalf(t, "%v", err)
	}
	return b.String(), nil
}

// specArgs applies a create or update command's arguments to spec.
func specArgs(t *testing.T, d *datadriven.TestData, spec *types.ServiceSpec) {
	up := func() *types.UpdateConfig {
		if spec.Update == nil {
			spec.Update = types.DefaultUpdateConfig()
		}
		return spec.Update
	}
	dur := func(v string) types.Duration {
		x, err := time.ParseDuration(v)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return types.Duration(x)
	}
	num := func(v string) uint64 {
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return x
	}
	c := &spec.Task.Container
	for _, a := range d.CmdArgs[1:] {
		v := ""
		if len(a.Vals) > 0 {
			v = a.Vals[0]
		}
		switch a.Key {
		case "global":
		case "replicas":
			spec.Replicas = num(v)
		case "image":
			c.Image = "hive-test/web:" + v
		case "env":
			c.Env = slices.DeleteFunc(slices.Clone(a.Vals), func(s string) bool { return s == "" })
		case "label":
			k, val, _ := strings.Cut(v, "=")
			spec.Labels = map[string]string{k: val}
		case "constraint":
			spec.Task.Placement.Constraints = a.Vals
		case "restart":
			spec.Task.RestartPolicy.Condition = types.RestartCondition(v)
		case "restart-delay":
			x := dur(v)
			spec.Task.RestartPolicy.Delay = &x
		case "max-attempts":
			spec.Task.RestartPolicy.MaxAttempts = num(v)
		case "parallelism":
			up().Parallelism = num(v)
		case "delay":
			up().Delay = dur(v)
		case "monitor":
			x := dur(v)
			up().Monitor = &x
		case "order":
			up().Order = types.UpdateOrder(v)
		case "failure-action":
			up().FailureAction = types.FailureAction(v)
		case "args":
			c.Args = slices.DeleteFunc(slices.Clone(a.Vals), func(s string) bool { return s == "" })
		case "healthcheck":
			// The test image's check, first run Interval after the start.
			c.Healthcheck = &types.HealthConfig{Test: []string{"CMD", "/web", "healthcheck"}, Interval: dur(v)}
		case "depends":
			spec.DependsOn = nil
			for _, dep := range a.Vals {
				name, cond, _ := strings.Cut(dep, ":")
				spec.DependsOn = append(spec.DependsOn, types.ServiceDependency{Service: name, Condition: types.DependencyCondition(cond)})
			}
		case "network":
			spec.Networks = nil
			for _, n := range a.Vals {
				spec.Networks = append(spec.Networks, types.NetworkAttachmentConfig{Target: n})
			}
		default:
			d.Fatalf(t, "unknown argument %s", a.Key)
		}
	}
}

// taskEnded reports whether the store has the task in a terminal state
// (or no longer has it).
func (c *Cluster) taskEnded(id string) bool {
	ended := true
	c.store.View(func(tx store.ReadTx) {
		if tk := tx.Task(id); tk != nil {
			ended = tk.Status.State.Terminal()
		}
	})
	return ended
}

// imageTag shortens the spec helpers' images to their tag.
func imageTag(image string) string { return strings.TrimPrefix(image, "hive-test/web:") }

var idPattern = regexp.MustCompile(`\b[0-9a-z]{25}\b`)

// redact hides IDs in messages.
func redact(s string) string { return idPattern.ReplaceAllString(s, "<id>") }

func (c *Cluster) nodeTable() string {
	var b strings.Builder
	c.store.View(func(tx store.ReadTx) {
		for _, n := range tx.Nodes() {
			fmt.Fprintf(&b, "%s %s %s %s", n.ID, n.Spec.Role, n.Spec.Availability, n.Status.State)
			if len(n.Spec.Labels) > 0 {
				fmt.Fprintf(&b, " %v", n.Spec.Labels)
			}
			b.WriteByte('\n')
		}
	})
	return b.String()
}

// taskTable lists the tasks of the named services (of every service when
// none is named), by service, slot or node, newest first: name, node,
// desired and observed state, image, when it was created, and its error.
func (c *Cluster) taskTable(names []datadriven.CmdArg) string {
	var tasks []*types.Task
	c.store.View(func(tx store.ReadTx) { tasks = tx.Tasks() })
	tasks = slices.DeleteFunc(tasks, func(tk *types.Task) bool {
		return len(names) > 0 && !slices.ContainsFunc(names, func(a datadriven.CmdArg) bool { return a.Key == tk.ServiceName })
	})
	sortTasks(tasks)
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %-7s %-8s %-9s %-5s %s\n", "task", "node", "desired", "state", "image", "created")
	for _, tk := range tasks {
		node := tk.NodeID
		if node == "" {
			node = "-"
		}
		fmt.Fprintf(&b, "%-14s %-7s %-8s %-9s %-5s %s", tk.Name(), node, tk.DesiredState, tk.Status.State,
			imageTag(tk.Spec.Container.Image), tk.CreatedAt.Sub(Epoch))
		if env := tk.Spec.Container.Env; len(env) > 0 {
			fmt.Fprintf(&b, " env=%s", strings.Join(env, ","))
		}
		if tk.Status.Err != "" {
			fmt.Fprintf(&b, " %q", redact(tk.Status.Err))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// addressTable lists the named services' virtual IPs and their tasks'
// addresses (of every service when none is named), by service and slot,
// newest first: name, desired and observed state, addresses by network
// name ("-" while the task has none), and its error.
func (c *Cluster) addressTable(names []datadriven.CmdArg) string {
	var b strings.Builder
	named := func(service string) bool {
		return len(names) == 0 || slices.ContainsFunc(names, func(a datadriven.CmdArg) bool { return a.Key == service })
	}
	c.store.View(func(tx store.ReadTx) {
		netName := func(id string) string {
			if n := tx.Network(id); n != nil {
				return n.Spec.Name
			}
			return id
		}
		services := tx.Services()
		slices.SortFunc(services, func(a, b *types.Service) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
		for _, svc := range services {
			if !named(svc.Spec.Name) {
				continue
			}
			var vips []string
			for _, v := range svc.Endpoint.VirtualIPs {
				vips = append(vips, netName(v.NetworkID)+"="+v.Addr.String())
			}
			fmt.Fprintf(&b, "%-14s vip %s\n", svc.Spec.Name, strings.Join(vips, " "))
		}
		tasks := slices.DeleteFunc(tx.Tasks(), func(tk *types.Task) bool { return !named(tk.ServiceName) })
		sortTasks(tasks)
		for _, tk := range tasks {
			var addrs []string
			for _, a := range tk.Networks {
				addr := "-"
				if len(a.Addresses) > 0 {
					addr = a.Addresses[0].String()
				}
				addrs = append(addrs, netName(a.NetworkID)+"="+addr)
			}
			fmt.Fprintf(&b, "%-14s %-8s %-9s %s", tk.Name(), tk.DesiredState, tk.Status.State, strings.Join(addrs, " "))
			if tk.Status.Err != "" {
				fmt.Fprintf(&b, " %q", redact(tk.Status.Err))
			}
			b.WriteByte('\n')
		}
	})
	return b.String()
}

// serviceLine describes a service: mode, replicas, image and update
// status.
func (c *Cluster) serviceLine(ref string) (string, error) {
	svc, err := c.control.GetService(c.ctx, ref)
	if err != nil {
		return "", err
	}
	line := fmt.Sprintf("%s %s", svc.Spec.Name, svc.Spec.Mode)
	if svc.Spec.Mode == types.ModeReplicated {
		line += fmt.Sprintf(" replicas=%d", svc.Spec.Replicas)
	}
	line += " image=" + imageTag(svc.Spec.Task.Container.Image)
	if env := svc.Spec.Task.Container.Env; len(env) > 0 {
		line += fmt.Sprintf(" env=%v", env)
	}
	if svc.PreviousSpec != nil {
		line += " previous=" + imageTag(svc.PreviousSpec.Task.Container.Image)
	}
	if st := svc.UpdateStatus; st != nil {
		line += fmt.Sprintf("\nupdate %s: %s", st.State, redact(st.Message))
	}
	return line + "\n", nil
}

// slotLine tells what each slot (or node) of a service runs: the tags of
// its running containers, "-" for none.
func (c *Cluster) slotLine(service string) string {
	var places []string
	running := map[string][]string{}
	c.store.View(func(tx store.ReadTx) {
		svc := tx.ServiceByName(service)
		if svc == nil {
			return
		}
		for i := uint64(1); i <= svc.Spec.Replicas; i++ {
			places = append(places, strconv.FormatUint(i, 10))
		}
		if svc.Spec.Mode == types.ModeGlobal {
			for _, n := range tx.Nodes() {
				places = append(places, n.ID)
			}
		}
		for _, tk := range tx.TasksByService(svc.ID) {
			place := tk.NodeID
			if tk.Slot > 0 {
				place = strconv.FormatUint(tk.Slot, 10)
			}
			i := c.NodeIndex(tk.NodeID)
			if i < 0 {
				continue
			}
			for _, ct := range c.nodes[i].Runtime.Containers() {
				if ct.Running() && ct.Labels[agent.LabelTask] == tk.ID {
					running[place] = append(running[place], imageTag(tk.Spec.Container.Image))
				}
			}
		}
	})
	fields := make([]string, len(places))
	for i, p := range places {
		imgs := running[p]
		slices.Sort(imgs)
		if len(imgs) == 0 {
			imgs = []string{"-"}
		}
		fields[i] = p + "=" + strings.Join(imgs, "+")
	}
	return strings.Join(fields, " ")
}

// containerTable lists every node's running containers by task name.
func (c *Cluster) containerTable() string {
	var b strings.Builder
	for _, n := range c.nodes {
		var names []string
		for _, ct := range n.Runtime.Containers() {
			if ct.Running() {
				names = append(names, ct.Name[:max(strings.LastIndexByte(ct.Name, '.'), 0)])
			}
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "%s: %s\n", n.ID, strings.Join(names, " "))
	}
	return b.String()
}
