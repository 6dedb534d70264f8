package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		n       int64
		c       int
		timeout time.Duration
		wantErr string
	}{
		{name: "ok", url: "http://127.0.0.1:1/", n: 10, c: 2, timeout: time.Second},
		{name: "no url", n: 10, c: 2, timeout: time.Second, wantErr: "-url is required"},
		{name: "https", url: "https://x/", n: 10, c: 2, timeout: time.Second, wantErr: "want an http:// URL"},
		{name: "no requests", url: "http://x/", n: 0, c: 1, timeout: time.Second, wantErr: "-n 0"},
		{name: "no connections", url: "http://x/", n: 1, c: 0, timeout: time.Second, wantErr: "-c 0"},
		{name: "more connections than requests", url: "http://x/", n: 1, c: 2, timeout: time.Second, wantErr: "more than -n"},
		{name: "no timeout", url: "http://x/", n: 1, c: 1, wantErr: "-timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.url, tc.n, tc.c, tc.timeout)
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

func TestRun(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "no", http.StatusServiceUnavailable)
		default:
			io.WriteString(w, "abc123 v1\n")
		}
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		path    string
		expect  string
		newConn bool
		wantErr string
	}{
		{name: "keep-alive", path: "/", expect: "v1"},
		{name: "new connection per request", path: "/", expect: "v1", newConn: true},
		{name: "bad status", path: "/fail", wantErr: "want 200 OK"},
		{name: "unexpected body", path: "/", expect: "v2", wantErr: `does not contain "v2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			served.Store(0)
			res, err := run(context.Background(), srv.URL+tc.path, 200, 4, time.Second, tc.expect, tc.newConn)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("run: got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if res.Requests != 200 || res.Connections != 4 || res.RPS <= 0 || res.NewConn != tc.newConn {
				t.Fatalf("run: got %+v, want 200 requests over 4 connections at a positive rate, new_conn %v", res, tc.newConn)
			}
			// 4 warm-up requests plus the 200 timed ones.
			if got := served.Load(); got != 204 {
				t.Errorf("server saw %d requests, want 204", got)
			}
			// Keep-alive: all on the 4 connections of the warm-up; new
			// connections: one per request.
			want := int64(4)
			if tc.newConn {
				want = 204
			}
			if res.Dials != want {
				t.Errorf("dials: got %d, want %d", res.Dials, want)
			}
		})
	}
}
