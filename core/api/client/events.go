package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/hiveorch/hive/core/events"
)

// eventLine is one line of an event stream: an event, or the error that
// ended the stream.
type eventLine struct {
	events.Event
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// Events streams the cluster events q asks for to sink (GET /v1/events)
// until the server ends the stream (q.Until passed), ctx is done (ctx's
// error), or sink fails (its error). q.Open, when set, is called once the
// server opened the stream. An error the server sends after the stream
// opened is returned as an *Error.
func (c *Client) Events(ctx context.Context, q events.Query, sink func(events.Event) error) error {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	for _, term := range q.Filter.Terms() {
		v.Add("filter", term)
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/events", v, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if q.Open != nil {
		q.Open()
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var l eventLine
		if err := dec.Decode(&l); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("events: %w", ctx.Err())
			}
			return fmt.Errorf("read events from %s: %w", c.endpoint, err)
		}
		if l.Error != "" {
			return &Error{StatusCode: resp.StatusCode, Kind: l.Kind, Message: l.Error}
		}
		if err := sink(l.Event); err != nil {
			return err
		}
	}
}
