package main

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestCheck(t *testing.T) {
	ok := names{"tasks.web"}
	tests := []struct {
		name    string
		ns      names
		server  string
		every   time.Duration
		wantErr string
	}{
		{name: "ok", ns: ok, server: "127.0.0.11:53", every: time.Millisecond},
		{name: "no name", server: "127.0.0.11:53", every: time.Millisecond, wantErr: "-name is required"},
		{name: "no port", ns: ok, server: "127.0.0.11", every: time.Millisecond, wantErr: "want host:port"},
		{name: "no interval", ns: ok, server: "127.0.0.11:53", wantErr: "-every 0s"},
		{name: "a name twice", ns: names{"web", "tasks.web", "web"}, server: "127.0.0.11:53", every: time.Millisecond, wantErr: "-name web given twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.ns, tc.server, tc.every, time.Second, time.Second)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("check: got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// server answers "web." at once and "tasks.web." only from its fourth
// query on (NXDOMAIN before); "nothing." never.
func server(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var tasks atomic.Int64
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := q.Question[0].Name
		a := func(ip string) dns.RR {
			return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(ip)}
		}
		switch {
		case name == "web.":
			m.Answer = []dns.RR{a("10.0.0.2")}
		case name == "tasks.web." && tasks.Add(1) > 3:
			m.Answer = []dns.RR{a("10.0.0.9"), a("10.0.0.3")}
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestPoll(t *testing.T) {
	addr := server(t)
	p := prober{server: addr, client: &dns.Client{Net: "udp", Timeout: time.Second}}

	t.Run("each name's first answer", func(t *testing.T) {
		var started atomic.Int64
		before := time.Now().UnixNano()
		got, err := p.poll(context.Background(), []string{"tasks.web", "web"}, time.Millisecond, func() { started.Add(1) })
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if started.Load() != 1 {
			t.Errorf("started ran %d times, want once", started.Load())
		}
		if len(got) != 2 || got[0].Name != "tasks.web" || got[1].Name != "web" {
			t.Fatalf("poll: got %+v, want tasks.web then web", got)
		}
		if !slices.Equal(got[0].Addrs, []string{"10.0.0.3", "10.0.0.9"}) || got[0].Queries != 4 {
			t.Errorf("tasks.web: got %+v, want 10.0.0.3 and 10.0.0.9 at the 4th query", got[0])
		}
		if !slices.Equal(got[1].Addrs, []string{"10.0.0.2"}) || got[1].Queries != 1 {
			t.Errorf("web: got %+v, want 10.0.0.2 at the 1st query", got[1])
		}
		if got[1].AtUnixN < before || got[0].AtUnixN < got[1].AtUnixN {
			t.Errorf("times out of order: started %d, web %d, tasks.web %d", before, got[1].AtUnixN, got[0].AtUnixN)
		}
	})

	t.Run("a name that never answers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := p.poll(ctx, []string{"web", "nothing"}, 5*time.Millisecond, nil)
		if err == nil || !strings.Contains(err.Error(), "nothing (") || !strings.Contains(err.Error(), "NXDOMAIN") || strings.Contains(err.Error(), "web (") {
			t.Fatalf("poll: got %v, want an error naming only nothing, with NXDOMAIN", err)
		}
	})
}
