// Command load is the HTTP load generator of bench/cluster.sh and
// bench/network.sh: it sends a fixed number of GET requests to one URL over
// a fixed number of keep-alive connections and prints the rate it reached as
// JSON on stdout.
//
//	load -url http://127.0.0.201:30080/ -n 20000 -c 4
//	load -url http://10.0.0.2/ -n 2000 -c 4 -new-conn
//
// Every connection is opened and used once before the clock starts, so the
// figure is the rate of requests on established connections. With -new-conn
// every request opens a connection of its own and closes it (no keep-alive),
// so the figure includes a TCP handshake per request; -c is then how many
// requests are in flight at once. A request that
// fails, answers other than 200 OK, or (with -expect) lacks a string in its
// body stops the run with exit status 1 and says which request and why.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is what load prints: one JSON object per run.
type result struct {
	URL         string  `json:"url"`
	Requests    int64   `json:"requests"`
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	Dials       int64   `json:"dials"`
	NewConn     bool    `json:"new_conn"`
}

func main() {
	url := flag.String("url", "", "URL to GET (required)")
	n := flag.Int64("n", 20000, "number of timed requests")
	c := flag.Int("c", 4, "number of keep-alive connections, each used by one worker (with -new-conn: requests in flight at once)")
	timeout := flag.Duration("timeout", 5*time.Second, "time limit of one request")
	expect := flag.String("expect", "", "a string every response body must contain")
	newConn := flag.Bool("new-conn", false, "open a new connection for every request instead of keeping c open")
	flag.Parse()
	if err := check(*url, *n, *c, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}
	res, err := run(context.Background(), *url, *n, *c, *timeout, *expect, *newConn)
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintf(os.Stderr, "load: write result: %v\n", err)
		os.Exit(1)
	}
}

func check(url string, n int64, c int, timeout time.Duration) error {
	switch {
	case url == "":
		return errors.New("-url is required")
	case !strings.HasPrefix(url, "http://"):
		return fmt.Errorf("-url %q: want an http:// URL", url)
	case n < 1:
		return fmt.Errorf("-n %d: want 1 or more requests", n)
	case c < 1:
		return fmt.Errorf("-c %d: want 1 or more connections", c)
	case int64(c) > n:
		return fmt.Errorf("-c %d is more than -n %d: every connection needs a request", c, n)
	case timeout <= 0:
		return fmt.Errorf("-timeout %s: want a positive duration", timeout)
	}
	return nil
}

// run warms c connections up with one request each, then sends n requests
// over them, c at a time, and times those. With newConn every request,
// warm-up included, dials a connection of its own and closes it.
func run(ctx context.Context, url string, n int64, c int, timeout time.Duration, expect string, newConn bool) (result, error) {
	var dials atomic.Int64
	dialer := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        c,
		MaxIdleConnsPerHost: c,
		MaxConnsPerHost:     c,
		DisableCompression:  true,
		DisableKeepAlives:   newConn,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}

	// Warm-up: c requests at once, so that c connections are open (with
	// newConn, so that the first timed requests find the server warm).
	if err := fan(c, func(int) error { return get(ctx, client, url, expect) }, nil); err != nil {
		return result{}, fmt.Errorf("warm-up of %d connections to %s: %w", c, url, err)
	}

	var next atomic.Int64
	start := time.Now()
	err := fan(c, func(int) error {
		for next.Add(1) <= n {
			if err := get(ctx, client, url, expect); err != nil {
				return err
			}
		}
		return nil
	}, &next)
	elapsed := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("requests to %s: %w", url, err)
	}
	return result{
		URL:         url,
		Requests:    n,
		Connections: c,
		Seconds:     elapsed.Seconds(),
		RPS:         float64(n) / elapsed.Seconds(),
		Dials:       dials.Load(),
		NewConn:     newConn,
	}, nil
}

// fan runs f in c goroutines and returns the first error; on an error it
// pushes stop (when given) past any count so the others end soon.
func fan(c int, f func(int) error, stop *atomic.Int64) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(i); err != nil {
				once.Do(func() { first = err })
				if stop != nil {
					stop.Store(1 << 62)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// get sends one request and reads its whole body, so that the connection
// goes back to the pool.
func get(ctx context.Context, client *http.Client, url, expect string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("got %s, want 200 OK", resp.Status)
	}
	if expect != "" && !strings.Contains(string(body), expect) {
		return fmt.Errorf("body %q does not contain %q", truncate(string(body), 80), expect)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
