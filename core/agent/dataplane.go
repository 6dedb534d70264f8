package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"sync"

	"github.com/hiveorch/hive/core/networks/dns"
	"github.com/hiveorch/hive/core/networks/vip"
)

// Dataplane programs what hive itself serves inside a task's network
// namespace: the resolver's sockets and the virtual IP rules. The kernel
// one is the real thing; MemoryDataplane stands in for it where there is
// no namespace (the simulation, API tests on the fake runtime).
type Dataplane interface {
	// ListenResolver opens the sockets the task's resolver serves, at
	// 127.0.0.11:53 in the namespace at netns.
	ListenResolver(netns string) (net.PacketConn, net.Listener, error)
	// ApplyRules replaces the namespace's virtual IP rules, atomically.
	// When the namespace is gone (its container just ended) it returns
	// an error that is errNetnsGone.
	ApplyRules(netns string, r vip.Rules) error
}

// KernelDataplane programs the namespaces themselves: package dns's
// sockets and package vip's nftables rules.
type KernelDataplane struct{}

// ListenResolver opens dns.ResolverAddr in the namespace.
func (KernelDataplane) ListenResolver(netns string) (net.PacketConn, net.Listener, error) {
	return dns.ListenInNetns(netns)
}

// errNetnsGone: the task's network namespace no longer exists.
var errNetnsGone = errors.New("the task's network namespace is gone")

// ApplyRules programs the rules with vip.Apply.
func (KernelDataplane) ApplyRules(netns string, r vip.Rules) error {
	if _, err := os.Stat(netns); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", netns, errNetnsGone)
	}
	return vip.Apply(netns, r)
}

// MemoryDataplane keeps the rules in memory and serves each resolver on a
// loopback port of the host, which Resolver tells. Safe for concurrent
// use.
type MemoryDataplane struct {
	mu        sync.Mutex
	rules     map[string]vip.Rules
	resolvers map[string]string
}

// NewMemoryDataplane returns an empty MemoryDataplane.
func NewMemoryDataplane() *MemoryDataplane {
	return &MemoryDataplane{rules: map[string]vip.Rules{}, resolvers: map[string]string{}}
}

// ListenResolver opens a UDP socket and a TCP listener on one free port
// of 127.0.0.1.
func (m *MemoryDataplane) ListenResolver(netns string) (net.PacketConn, net.Listener, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("resolver for %s: %w", netns, err)
	}
	pc, err := net.ListenPacket("udp4", ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("resolver for %s: %w", netns, err)
	}
	m.mu.Lock()
	m.resolvers[netns] = ln.Addr().String()
	m.mu.Unlock()
	return pc, ln, nil
}

// ApplyRules records the rules.
func (m *MemoryDataplane) ApplyRules(netns string, r vip.Rules) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rules[netns] = maps.Clone(r)
	return nil
}

// Rules returns the rules last applied in netns.
func (m *MemoryDataplane) Rules(netns string) vip.Rules {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.rules[netns])
}

// Resolver returns the address the resolver of netns was last opened
// on ("" if never).
func (m *MemoryDataplane) Resolver(netns string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resolvers[netns]
}
