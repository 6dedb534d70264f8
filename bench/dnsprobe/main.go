// Command dnsprobe is the resolver poller of bench/network.sh: it asks a DNS
// server for the A records of one or more names, all of them every -every,
// until each has answered with at least one address, and prints for each name
// when it first did, as JSON on stdout. The script runs it inside a task's
// network namespace (nsenter -t PID -n), where hive's resolver listens on
// 127.0.0.11:53, then creates a service and compares the first answer with
// the moment the service's container started.
//
//	dnsprobe -name tasks.web -name web -every 10ms -timeout 30s
//
// It writes "dnsprobe: polling" to stderr once every name has been asked
// once, so the caller knows the clock can start. An answer counts when its
// rcode is NOERROR and it holds an A record; NXDOMAIN, an empty answer and a
// query that times out count as "not yet". When -timeout passes first it
// exits 1 and says which names never answered, with their last reply.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// first is what dnsprobe prints for one name: when it first answered, with
// which addresses, after how many queries.
type first struct {
	Name    string   `json:"name"`
	Addrs   []string `json:"addrs"`
	AtUnixN int64    `json:"at_unix_ns"`
	Queries int      `json:"queries"`
}

// names is a repeatable -name flag.
type names []string

func (n *names) String() string { return strings.Join(*n, ",") }
func (n *names) Set(v string) error {
	if v == "" {
		return errors.New("a name may not be empty")
	}
	*n = append(*n, v)
	return nil
}

func main() {
	var ns names
	flag.Var(&ns, "name", "a name to resolve (repeatable; at least one)")
	server := flag.String("server", "127.0.0.11:53", "DNS server, host:port")
	every := flag.Duration("every", 10*time.Millisecond, "time between two rounds of queries")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	qtimeout := flag.Duration("query-timeout", 200*time.Millisecond, "time limit of one query")
	flag.Parse()
	if err := check(ns, *server, *every, *timeout, *qtimeout); err != nil {
		fmt.Fprintf(os.Stderr, "dnsprobe: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	p := prober{server: *server, client: &dns.Client{Net: "udp", Timeout: *qtimeout}}
	got, err := p.poll(ctx, ns, *every, func() { fmt.Fprintln(os.Stderr, "dnsprobe: polling") })
	if err != nil {
		fmt.Fprintf(os.Stderr, "dnsprobe: %v\n", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, f := range got {
		if err := enc.Encode(f); err != nil {
			fmt.Fprintf(os.Stderr, "dnsprobe: write result: %v\n", err)
			os.Exit(1)
		}
	}
}

func check(ns names, server string, every, timeout, qtimeout time.Duration) error {
	if len(ns) == 0 {
		return errors.New("-name is required (at least once)")
	}
	for i, name := range ns {
		if slices.Contains(ns[:i], name) {
			return fmt.Errorf("-name %s given twice", name)
		}
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		return fmt.Errorf("-server %q: want host:port: %w", server, err)
	}
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{{"-every", every}, {"-timeout", timeout}, {"-query-timeout", qtimeout}} {
		if d.d <= 0 {
			return fmt.Errorf("%s %s: want a positive duration", d.flag, d.d)
		}
	}
	return nil
}

// prober asks one server.
type prober struct {
	server string
	client *dns.Client
}

// poll asks for every name not yet answered, once per round, a round every
// `every`, until each name has answered or ctx ends. started runs after the
// first round. The results are in the order of ns. A query cut short by the
// end of ctx is not counted, so the error gives each name's last real reply.
func (p prober) poll(ctx context.Context, ns []string, every time.Duration, started func()) ([]first, error) {
	got := map[string]*first{}
	queries := map[string]int{}
	last := map[string]string{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for round := 0; ; round++ {
		for _, name := range ns {
			if got[name] != nil || over(ctx) {
				continue
			}
			addrs, why := p.lookup(ctx, name)
			if len(addrs) == 0 && over(ctx) {
				continue
			}
			queries[name]++
			if len(addrs) > 0 {
				got[name] = &first{Name: name, Addrs: addrs, AtUnixN: time.Now().UnixNano(), Queries: queries[name]}
			} else {
				last[name] = why
			}
		}
		if round == 0 && started != nil {
			started()
		}
		if len(got) == len(ns) {
			out := make([]first, 0, len(ns))
			for _, name := range ns {
				out = append(out, *got[name])
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			var missing []string
			for _, name := range ns {
				if got[name] == nil {
					missing = append(missing, fmt.Sprintf("%s (%d queries, last: %s)", name, queries[name], cmp.Or(last[name], "none answered")))
				}
			}
			return nil, fmt.Errorf("no address from %s for %s before the time limit: is the probe inside a task's namespace on the network, and does the service run?", p.server, strings.Join(missing, "; "))
		case <-tick.C:
		}
	}
}

// over says whether ctx has ended or its deadline has passed: a query that
// times out at the deadline returns before ctx's own timer marks it done.
func over(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// lookup asks for name's A records; with none, it says what came back.
func (p prober) lookup(ctx context.Context, name string) ([]string, string) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := p.client.ExchangeContext(ctx, m, p.server)
	if err != nil {
		return nil, err.Error()
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, dns.RcodeToString[r.Rcode]
	}
	var addrs []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			addrs = append(addrs, a.A.String())
		}
	}
	if len(addrs) == 0 {
		return nil, "NOERROR with no A record"
	}
	slices.Sort(addrs)
	return addrs, ""
}
