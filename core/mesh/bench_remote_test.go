package mesh

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchConns is how many client connections (or, without keep-alive,
// concurrent requests) the load generator keeps busy, like wrk -c.
const benchConns = 32

// BenchmarkMeshRemoteVsDirect measures HTTP throughput through a node that
// runs no task of the service (node-a forwards every connection over mutual
// TLS to node-b, which runs the only task) against requests sent straight
// to the task, and reports both rates and their ratio remote/direct (the
// issue's goal is >= 0.7). For scale it also measures the same port on the
// task's own node (one proxy hop, no TLS): local/direct. Each benchmark
// iteration is one request; the requests alternate between the targets in
// rounds, so that a change of load on the machine weighs on all alike.
// Variants: keep-alive connections, a new connection per request, and 1 MiB
// bodies over keep-alive.
//
//	go test -run '^$' -bench MeshRemoteVsDirect -benchtime 30000x ./core/mesh/
func BenchmarkMeshRemoteVsDirect(b *testing.B) {
	large := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/large" {
			io.WriteString(w, large)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	urls := benchCluster(b, srv)

	cases := []struct {
		name      string
		path      string
		keepAlive bool
	}{
		{name: "keepalive", path: "/", keepAlive: true},
		{name: "new_conn", path: "/", keepAlive: false},
		{name: "1MiB", path: "/large", keepAlive: true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			targets := []*load{
				newLoad(srv.URL+tc.path, tc.keepAlive),
				newLoad(urls.local+tc.path, tc.keepAlive),
				newLoad(urls.remote+tc.path, tc.keepAlive),
			}
			direct, local, remote := targets[0], targets[1], targets[2]
			for _, l := range targets {
				defer l.close()
			}
			const rounds = 10
			per := max(b.N/(len(targets)*rounds), 1)
			b.ResetTimer()
			for r := range rounds {
				for i := range targets {
					// Rotate the order so no target always goes first.
					targets[(i+r)%len(targets)].run(b, per)
				}
			}
			b.StopTimer()
			b.ReportMetric(direct.rate(), "direct_req/s")
			b.ReportMetric(remote.rate(), "remote_req/s")
			b.ReportMetric(remote.rate()/direct.rate(), "remote/direct")
			b.ReportMetric(local.rate()/direct.rate(), "local/direct")
			// With the machine to itself the rates are bound by CPU: the
			// ratio of CPU per request is what the rates tend to, and
			// depends little on other load.
			b.ReportMetric(direct.cpuPerRequest()/remote.cpuPerRequest(), "cpu_remote/direct")
			b.ReportMetric(remote.cpuPerRequest(), "remote_cpu_µs/req")
			if tc.path == "/large" {
				b.ReportMetric(remote.rate()*float64(len(large))/1e6, "remote_MB/s")
			}
		})
	}
}

// benchURLs are the published port's URLs on node-a, which runs no task
// (remote), and on node-b, which runs the task (local).
type benchURLs struct{ remote, local string }

// benchCluster starts node-a and node-b, node-b running the only task
// (srv) of a published port that both nodes' meshes serve, each on its own
// loopback address.
func benchCluster(b *testing.B, srv *httptest.Server) benchURLs {
	c := newTestCluster(b)
	quiet := ForwardServer{Logger: discardLogger()}
	a := c.addNode(b, "node-a", nodeOpts{server: quiet})
	nb := c.addNode(b, "node-b", nodeOpts{server: quiet})
	backend := Backend{TaskID: "task-1", NodeID: nb.id, Addr: srv.Listener.Addr().String()}
	nb.runTask(backend.TaskID, "127.0.0.1")
	port := freePort(b)
	bind := map[*testNode]string{a: "127.0.0.1", nb: "127.0.0.2"}
	for n, ip := range bind {
		m := New(Config{BindAddr: ip, Dialer: n.fwd.Dial})
		b.Cleanup(func() { m.Close() })
		m.Apply(map[PortKey]Route{tcpKey(port): route("bench", backend)})
	}
	return benchURLs{
		remote: fmt.Sprintf("http://%s:%d", bind[a], port),
		local:  fmt.Sprintf("http://%s:%d", bind[nb], port),
	}
}

// load is a closed-loop HTTP load generator for one URL: benchConns
// workers send requests back to back.
type load struct {
	url     string
	client  *http.Client
	tr      *http.Transport
	done    int64
	elapsed time.Duration
	cpu     time.Duration // CPU time of the whole process meanwhile
}

func newLoad(url string, keepAlive bool) *load {
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: benchConns}
	return &load{url: url, tr: tr, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// run sends n requests and adds them and the time they took to the tally.
func (l *load) run(b *testing.B, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu := processCPU(b)
	start := time.Now()
	for range min(benchConns, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, err := l.client.Get(l.url)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	l.elapsed += time.Since(start)
	l.cpu += processCPU(b) - cpu
	l.done += int64(n)
}

func (l *load) rate() float64 { return float64(l.done) / l.elapsed.Seconds() }

// cpuPerRequest is the process's CPU time per request, in microseconds:
// client, proxies and task together.
func (l *load) cpuPerRequest() float64 { return float64(l.cpu.Microseconds()) / float64(l.done) }

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (l *load) close() { l.tr.CloseIdleConnections() }
