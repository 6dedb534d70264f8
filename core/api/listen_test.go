package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/apitest"
	"github.com/hiveorch/hive/internal/testutil"
)

// unixClient returns an HTTP client that dials the socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// serve runs s on a fresh socket under t.TempDir and returns the socket
// path and a function that cancels Serve's context and returns its result
// (or fails the test when Serve does not return in time).
func serve(t *testing.T, s *api.Server) (string, func() error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "hive.sock")
	l, err := api.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return within 10s of its context being cancelled")
			}
		})
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return path, stop
}

func TestListenUnixCreatesDirAndSocket(t *testing.T) {
	path, _ := serve(t, api.NewServer(apitest.New(), testutil.Logger(t)))
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := dir.Mode().Perm(); got != 0o700 {
		t.Errorf("parent dir mode = %o, want 700", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want a socket with 660", fi.Mode())
	}
	resp, err := unixClient(path).Get("http://hive/v1/_ping")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `"OK"` {
		t.Errorf("ping = %d %s", resp.StatusCode, b)
	}
}

func TestListenUnixRefusesLiveSocket(t *testing.T) {
	path, _ := serve(t, api.NewServer(apitest.New(), testutil.Logger(t)))
	_, err := api.ListenUnix(path)
	if err == nil || !strings.Contains(err.Error(), "another hive is already listening on "+path) {
		t.Fatalf("err = %v, want another hive is already listening", err)
	}
}

func TestListenUnixRemovesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hive.sock")
	// A listener that does not unlink its file on close leaves a stale
	// socket behind, as a crashed daemon does.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket missing: %v", err)
	}
	l2, err := api.ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	l2.Close()
}

func TestListenUnixRefusesRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hive.sock")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := api.ListenUnix(path)
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("err = %v, want is not a socket", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Error("the file was touched")
	}
}

func TestServeStopsOnContextAndEndsFollowedLogs(t *testing.T) {
	b := apitest.New()
	b.AddService(fakeService())
	b.Logs["svc1abc"] = logLines(1)
	path, stop := serve(t, api.NewServer(b, testutil.Logger(t)))

	resp, err := unixClient(path).Get("http://hive/v1/services/web/logs?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(first, `"line":"line 0"`) {
		t.Fatalf("first line %q, %v", first, err)
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve returned %v, want nil", err)
	}
	rest, _ := io.ReadAll(rd)
	var last api.StreamError
	if err := json.Unmarshal(rest, &last); err != nil || last.Kind != "unavailable" || !strings.Contains(last.Error, "shutting down") {
		t.Errorf("stream ended with %q, want an unavailable error line", rest)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket still exists after Serve returned: %v", err)
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hive.sock")
	l, err := api.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	err = api.NewServer(apitest.New(), testutil.Logger(t)).Serve(context.Background(), l)
	if err == nil || !strings.Contains(err.Error(), "serve api on") {
		t.Fatalf("err = %v, want the listener's error", err)
	}
}
