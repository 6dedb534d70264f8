package docker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// frame multiplexes payload on stream the way the engine does.
func frame(stream stdcopy.StdType, payload string) []byte {
	hdr := make([]byte, 8)
	hdr[0] = byte(stream)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	return append(hdr, payload...)
}

// demux runs demuxLines over src and returns the first error.
func demux(t *testing.T, src []byte, timestamps bool, sink func(runtime.LogEntry) error) error {
	t.Helper()
	sinkErr, readErr := demuxLines(bytes.NewReader(src), timestamps, sink)
	return errors.Join(sinkErr, readErr)
}

func TestLineWriterSplitsStreamsIntoLines(t *testing.T) {
	var src []byte
	src = append(src, frame(stdcopy.Stdout, "line 1\nline")...)
	src = append(src, frame(stdcopy.Stderr, "oops\n")...)
	src = append(src, frame(stdcopy.Stdout, " 2\n\nlast without newline")...)
	var got []runtime.LogEntry
	err := demux(t, src, false, func(e runtime.LogEntry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stdout: line 1", "stderr: oops", "stdout: line 2", "stdout: ", "stdout: last without newline"}
	if !slices.Equal(lines(got), want) {
		t.Fatalf("lines = %q, want %q", lines(got), want)
	}
}

func TestLineWriterParsesTimestamps(t *testing.T) {
	src := frame(stdcopy.Stdout, "2024-05-06T07:08:09.123456789Z hello world\nno-timestamp here\n2024-05-06T07:08:10Z\n")
	var got []runtime.LogEntry
	if err := demux(t, src, true, func(e runtime.LogEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d entries: %q", len(got), lines(got))
	}
	want0 := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if !got[0].Time.Equal(want0) || string(got[0].Line) != "hello world" {
		t.Errorf("entry 0 = %v %q", got[0].Time, got[0].Line)
	}
	if !got[1].Time.IsZero() || string(got[1].Line) != "no-timestamp here" {
		t.Errorf("entry 1 = %v %q", got[1].Time, got[1].Line)
	}
	if got[2].Time.IsZero() || len(got[2].Line) != 0 {
		t.Errorf("entry 2 = %v %q", got[2].Time, got[2].Line)
	}
}

func TestLineWriterStopsOnSinkError(t *testing.T) {
	sinkErr := errors.New("client went away")
	src := append(frame(stdcopy.Stdout, "a\nb\nc\n"), frame(stdcopy.Stderr, "d\n")...)
	calls := 0
	err := demux(t, src, false, func(runtime.LogEntry) error {
		calls++
		return sinkErr
	})
	if !errors.Is(err, sinkErr) {
		t.Fatalf("err = %v, want the sink's", err)
	}
	if calls != 1 {
		t.Fatalf("sink called %d times after failing", calls)
	}
}

func TestLineWriterDoesNotReuseLineMemory(t *testing.T) {
	src := frame(stdcopy.Stdout, "first\nsecond\n")
	var got []runtime.LogEntry
	if err := demux(t, src, false, func(e runtime.LogEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(got[0].Line) != "first" || string(got[1].Line) != "second" {
		t.Fatalf("lines = %q", lines(got))
	}
}
