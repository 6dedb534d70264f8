package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hiveorch/hive/core/networks"
	"github.com/hiveorch/hive/core/networks/vip"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/plugins/sdk/network"
)

// netnsOf is where the agent finds a task's namespace: its container's
// process's (the fake runtime gives every container a PID).
func netnsOf(t *types.Task) string { return fmt.Sprintf("/proc/%d/ns/net", t.Status.PID) }

// dataplaneTable prints what each node's agent programmed: the networks
// its network plugin has (attachments by task name, peers by node), and
// the virtual IP rules in each of its running tasks' namespaces.
func (c *Cluster) dataplaneTable() string {
	var b strings.Builder
	var tasks []*types.Task
	var nodes []*types.Node
	c.store.View(func(tx store.ReadTx) { tasks, nodes = tx.Tasks(), tx.Nodes() })
	taskName := map[string]string{}
	addrName := map[netip.Addr]string{}
	for _, t := range tasks {
		taskName[t.ID] = t.Name()
		for _, a := range t.Networks {
			for _, p := range a.Addresses {
				if t.Status.State <= types.TaskStateRunning {
					addrName[p.Addr()] = t.Name()
				}
			}
		}
	}
	nodeOf := map[netip.Addr]string{}
	for _, n := range nodes {
		if e, ok := networks.Endpoint(n); ok {
			nodeOf[e.Addr] = n.ID
		}
	}
	sortTasks(tasks)
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "%s:\n", n.ID)
		states := n.Network.Networks()
		slices.SortFunc(states, func(a, b2 network.NetworkState) int { return strings.Compare(a.Network.Name, b2.Network.Name) })
		for _, st := range states {
			var atts, peers []string
			for _, a := range st.Attachments {
				atts = append(atts, taskName[a.TaskID]+"="+a.Address.Addr().String())
			}
			for _, p := range st.Peers {
				peers = append(peers, addrName[p.Address]+"@"+nodeOf[p.NodeAddr])
			}
			slices.Sort(atts)
			slices.Sort(peers)
			line := fmt.Sprintf("  network %s vni=%d attached: %s", st.Network.Name, st.Network.VNI, strings.Join(atts, " "))
			if len(peers) > 0 {
				line += " peers: " + strings.Join(peers, " ")
			}
			b.WriteString(line + "\n")
		}
		for _, t := range tasks {
			if t.NodeID != n.ID || t.Status.State != types.TaskStateRunning || len(t.Networks) == 0 {
				continue
			}
			rules := n.Dataplane.Rules(netnsOf(t))
			var keys []vip.Key
			for k := range rules {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b vip.Key) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				var backends []string
				for _, a := range rules[k] {
					backends = append(backends, addrName[a])
				}
				fmt.Fprintf(&b, "  %s: %s -> %s\n", t.Name(), k, strings.Join(backends, " "))
			}
		}
	}
	return b.String()
}

// stableDataplane is dataplaneTable once the agents are done: the same
// twice in a row, 20ms apart (they program the plugin on their own
// goroutines after the store settled), or after 2s.
func (c *Cluster) stableDataplane() string {
	last := c.dataplaneTable()
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		cur := c.dataplaneTable()
		if cur == last {
			return cur
		}
		last = cur
	}
	return last
}

// resolve asks the resolver of the running task named task for name, as
// a process in the task would, and prints the answer's code and
// addresses, each named by the task or service it belongs to.
func (c *Cluster) resolve(task, name string) (string, error) {
	var asker *types.Task
	var services []*types.Service
	var tasks []*types.Task
	c.store.View(func(tx store.ReadTx) { services, tasks = tx.Services(), tx.Tasks() })
	named := map[netip.Addr]string{}
	for _, s := range services {
		for _, v := range s.Endpoint.VirtualIPs {
			named[v.Addr.Addr()] = s.Spec.Name + "(vip)"
		}
	}
	for _, t := range tasks {
		if t.Name() == task && t.Status.State == types.TaskStateRunning {
			asker = t
		}
		for _, a := range t.Networks {
			for _, p := range a.Addresses {
				if t.Status.State <= types.TaskStateRunning {
					named[p.Addr()] = t.Name()
				}
			}
		}
	}
	if asker == nil {
		return "", fmt.Errorf("no running task %s", task)
	}
	addr := c.nodes[c.NodeIndex(asker.NodeID)].Dataplane.Resolver(netnsOf(asker))
	if addr == "" {
		return "", fmt.Errorf("task %s has no resolver", task)
	}
	cl := &dns.Client{Timeout: 2 * time.Second}
	m, _, err := cl.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA), addr)
	if err != nil {
		return "", err
	}
	var out []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			ip, _ := netip.AddrFromSlice(a.A)
			out = append(out, named[ip.Unmap()])
		}
	}
	slices.Sort(out)
	return strings.TrimSpace(dns.RcodeToString[m.Rcode]+" "+strings.Join(out, " ")) + "\n", nil
}
