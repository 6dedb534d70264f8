// Package client is the Go client of hive's HTTP/JSON API (package
// core/api). The CLI uses it; so can any program that drives hive.
//
// A Client implements api.Backend, so code written against the Backend
// runs the same in-process or over the socket. Errors the server returns
// keep their kind: errors.Is(err, errdefs.ErrNotFound) holds for a missing
// service, and the error's text is the server's message. When the server
// cannot be reached at all, the error says where the client looked and how
// to start hive or point the CLI elsewhere, and it wraps
// errdefs.ErrUnavailable.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/errdefs"
)

// Client talks to one hive API endpoint. It is safe for concurrent use.
type Client struct {
	endpoint string // as given, for messages
	base     string // scheme://host prefix of every request URL
	http     *http.Client
}

var _ api.Backend = (*Client)(nil)

// Option changes how New builds a Client.
type Option func(*settings)

type settings struct {
	tls *tls.Config
}

// WithTLS makes a tcp:// client speak HTTPS with cfg (client certificate,
// cluster CA). It has no effect on a unix:// endpoint.
func WithTLS(cfg *tls.Config) Option {
	return func(s *settings) { s.tls = cfg }
}

// dialTimeout bounds connecting to the endpoint; requests themselves are
// bounded by their context only, since log streams may last for hours.
const dialTimeout = 5 * time.Second

// New returns a client for endpoint: "unix:///path/to/hive.sock" (or a bare
// absolute path) or "tcp://host:port".
func New(endpoint string, opts ...Option) (*Client, error) {
	var st settings
	for _, o := range opts {
		o(&st)
	}
	dialer := &net.Dialer{Timeout: dialTimeout}
	transport := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        4,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	c := &Client{endpoint: endpoint, http: &http.Client{Transport: transport}}
	switch {
	case strings.HasPrefix(endpoint, "unix://") || strings.HasPrefix(endpoint, "/"):
		path := strings.TrimPrefix(endpoint, "unix://")
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("invalid hive host %q: a unix socket needs an absolute path, as in unix:///var/lib/hive/hive.sock", endpoint)
		}
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
		c.base = "http://hive"
	case strings.HasPrefix(endpoint, "tcp://"):
		hostport := strings.TrimPrefix(endpoint, "tcp://")
		if _, port, err := net.SplitHostPort(hostport); err != nil || port == "" {
			return nil, fmt.Errorf("invalid hive host %q: want tcp://HOST:PORT, as in tcp://10.0.0.5:7946", endpoint)
		}
		transport.DialContext = dialer.DialContext
		c.base = "http://" + hostport
		if st.tls != nil {
			transport.TLSClientConfig = st.tls
			c.base = "https://" + hostport
		}
	default:
		return nil, fmt.Errorf("invalid hive host %q: want unix:///path/to/hive.sock or tcp://HOST:PORT", endpoint)
	}
	return c, nil
}

// Endpoint returns the endpoint the client was made for.
func (c *Client) Endpoint() string { return c.endpoint }

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Error is an error the API returned. It wraps the errdefs sentinel of its
// kind, so errors.Is(err, errdefs.ErrNotFound) works, and its text is the
// server's message.
type Error struct {
	// StatusCode is the HTTP status, or 200 for an error that ended a log
	// stream.
	StatusCode int
	// Kind is the errdefs kind name the server sent.
	Kind    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the errdefs sentinel of the error's kind.
func (e *Error) Unwrap() error { return errdefs.FromKind(e.Kind) }

// ConnError is the error of a request that could not reach the server.
// It wraps errdefs.ErrUnavailable and the network error.
type ConnError struct {
	Endpoint string
	Err      error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach hive at %s: %v — is hive running? start it with 'hive up', or point -H/HIVE_HOST at it", e.Endpoint, e.Err)
}

// Unwrap returns errdefs.ErrUnavailable and the network error.
func (e *ConnError) Unwrap() []error { return []error{errdefs.ErrUnavailable, e.Err} }

// do sends a request and returns the response when its status is 2xx; any
// other status becomes an *Error read from the body. The caller closes the
// body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", api.ContentTypeJSON)
	}
	req.Header.Set("Accept", api.ContentTypeJSON)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, &ConnError{Endpoint: c.endpoint, Err: op}
		}
		return nil, fmt.Errorf("%s %s on hive at %s: %w", method, path, c.endpoint, unwrapURLError(err))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readError(resp)
}

// unwrapURLError drops the "Get \"http://hive/v1/...\":" prefix that
// net/http puts on transport errors; the URL means nothing to a user.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readError turns a non-2xx response into an *Error.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, api.MaxBodyBytes))
	var er api.ErrorResponse
	if err := json.Unmarshal(b, &er); err != nil || er.Message == "" {
		msg := strings.TrimSpace(string(b))
		if msg == "" {
			msg = resp.Status
		}
		return &Error{StatusCode: resp.StatusCode, Kind: kindOfStatus(resp.StatusCode), Message: "hive API: " + msg}
	}
	if er.Kind == "" {
		er.Kind = kindOfStatus(resp.StatusCode)
	}
	return &Error{StatusCode: resp.StatusCode, Kind: er.Kind, Message: er.Message}
}

// kindOfStatus guesses an error kind from a status, for a response that did
// not come from hive's API (a proxy, an older server).
func kindOfStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "invalid_argument"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return "unavailable"
	case http.StatusForbidden, http.StatusUnauthorized:
		return "permission_denied"
	}
	return "internal"
}

// call sends a request and decodes a JSON response into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read response of %s %s from %s: %w", method, path, c.endpoint, err)
	}
	return nil
}
