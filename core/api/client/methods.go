package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/types"
)

// Ping checks that the API answers.
func (c *Client) Ping(ctx context.Context) error {
	var s string
	if err := c.call(ctx, http.MethodGet, "/v1/_ping", nil, nil, &s); err != nil {
		return err
	}
	if s != "OK" {
		return fmt.Errorf("ping %s: unexpected answer %q", c.endpoint, s)
	}
	return nil
}

// Info describes the node that answers and its cluster.
func (c *Client) Info(ctx context.Context) (*api.Info, error) {
	var out api.Info
	if err := c.call(ctx, http.MethodGet, "/v1/info", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListNodes returns every node.
func (c *Client) ListNodes(ctx context.Context) ([]*types.Node, error) {
	return list[*types.Node](ctx, c, "/v1/nodes")
}

// GetNode returns the node ref names: an ID, unique ID prefix, hostname or
// "self".
func (c *Client) GetNode(ctx context.Context, ref string) (*types.Node, error) {
	return get[types.Node](ctx, c, "node", "/v1/nodes", ref)
}

// ListServices returns every service with its task counts.
func (c *Client) ListServices(ctx context.Context) ([]api.ServiceSummary, error) {
	return list[api.ServiceSummary](ctx, c, "/v1/services")
}

// GetService returns the service ref names: an ID, unique ID prefix or
// name.
func (c *Client) GetService(ctx context.Context, ref string) (*types.Service, error) {
	return get[types.Service](ctx, c, "service", "/v1/services", ref)
}

// CreateService creates a service and returns it.
func (c *Client) CreateService(ctx context.Context, spec types.ServiceSpec) (*types.Service, error) {
	var out types.Service
	if err := c.call(ctx, http.MethodPost, "/v1/services", nil, spec, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateService replaces a service's spec. version is the Meta.Version the
// caller read; the call fails with errdefs.ErrVersionConflict (an
// errdefs.ErrConflict) when the service changed since.
func (c *Client) UpdateService(ctx context.Context, ref string, version uint64, spec types.ServiceSpec) (*types.Service, error) {
	if ref == "" {
		return nil, errors.New("update service: empty service name")
	}
	q := url.Values{"version": {strconv.FormatUint(version, 10)}}
	var out types.Service
	if err := c.call(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(ref)+"/update", q, spec, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveService removes a service.
func (c *Client) RemoveService(ctx context.Context, ref string) error {
	return remove(ctx, c, "service", "/v1/services", ref, nil)
}

// ListTasks returns the tasks f selects.
func (c *Client) ListTasks(ctx context.Context, f api.TaskFilter) ([]*types.Task, error) {
	q := url.Values{}
	if f.Service != "" {
		q.Set("service", f.Service)
	}
	if f.Node != "" {
		q.Set("node", f.Node)
	}
	if f.DesiredState != "" {
		q.Set("desired-state", f.DesiredState)
	}
	var out []*types.Task
	if err := c.call(ctx, http.MethodGet, "/v1/tasks", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Plugins reports the plugins of the node that answers.
func (c *Client) Plugins(ctx context.Context) ([]api.PluginStatus, error) {
	var out []api.PluginStatus
	if err := c.call(ctx, http.MethodGet, "/v1/plugins", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Shutdown asks the daemon to stop. It returns once the daemon accepted.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/shutdown", nil, nil, nil)
}

// Stats streams the frames of GET /v1/stats to sink until the server ends
// the stream (after one frame without opts.Stream), ctx is done, or sink
// fails (its error is returned).
func (c *Client) Stats(ctx context.Context, opts api.StatsOptions, sink func(api.StatsFrame) error) error {
	q := url.Values{"service": opts.Services}
	if opts.Stream {
		q.Set("stream", "true")
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/stats", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readStream(ctx, c, resp, "stats", sink)
}

// readStream passes each NDJSON value of resp's body to sink until the
// body ends, ctx is done, or sink fails (its error is returned). An error
// the server sends after the stream began (an api.StreamError line) is
// returned as an *Error; what names the stream in other errors.
func readStream[T any](ctx context.Context, c *Client, resp *http.Response, what string, sink func(T) error) error {
	dec := json.NewDecoder(resp.Body)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", what, ctx.Err())
			}
			return fmt.Errorf("read %s from %s: %w", what, c.endpoint, err)
		}
		var e api.StreamError
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return &Error{StatusCode: resp.StatusCode, Kind: e.Kind, Message: e.Error}
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("read %s from %s: %w", what, c.endpoint, err)
		}
		if err := sink(v); err != nil {
			return err
		}
	}
}

// ServiceLogs streams a service's log lines to sink until the server ends
// the stream, ctx is done, or sink fails (its error is returned). An error
// the server sends after the stream began is returned as an *Error.
func (c *Client) ServiceLogs(ctx context.Context, ref string, opts api.LogOptions, sink func(api.LogLine) error) error {
	if ref == "" {
		return errors.New("service logs: empty service name")
	}
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	q.Set("tail", strconv.Itoa(opts.Tail))
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339Nano))
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/services/"+url.PathEscape(ref)+"/logs", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readStream(ctx, c, resp, "logs of "+ref, sink)
}
