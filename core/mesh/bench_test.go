package mesh

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkProxy measures HTTP requests through the mesh against the same
// requests sent straight to the backend, measured in the same run: compare
// the direct/... and mesh/... lines (req/s, and MB/s for large bodies).
func BenchmarkProxy(b *testing.B) {
	large := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/large" {
			io.WriteString(w, large)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	m := New(Config{BindAddr: "127.0.0.1"})
	defer m.Close()
	port := freePort(b)
	m.Apply(map[PortKey]Route{tcpKey(port): route("bench", Backend{TaskID: "t1", Addr: srv.Listener.Addr().String()})})

	targets := []struct{ name, base string }{
		{"direct", srv.URL},
		{"mesh", fmt.Sprintf("http://127.0.0.1:%d", port)},
	}
	cases := []struct {
		name      string
		path      string
		keepAlive bool
		bytes     int64
	}{
		{name: "keepalive", path: "/", keepAlive: true},
		{name: "new_conn", path: "/", keepAlive: false},
		{name: "1MiB", path: "/large", keepAlive: true, bytes: int64(len(large))},
	}
	for _, tc := range cases {
		for _, tg := range targets {
			b.Run(tg.name+"/"+tc.name, func(b *testing.B) {
				tr := &http.Transport{DisableKeepAlives: !tc.keepAlive, MaxIdleConnsPerHost: 64}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				url := tg.base + tc.path
				b.SetBytes(tc.bytes)
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						resp, err := client.Get(url)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}
