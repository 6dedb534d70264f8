// Package conformance is the secrets plugin kind's conformance suite: what
// hive relies on from any secrets driver. A driver's author runs it from a
// test of their own, against a real store:
//
//	func TestConformance(t *testing.T) {
//		store := startMyStore(t)
//		conformance.Run(t, func(t *testing.T) secrets.Driver {
//			d := mydriver.New(logger)
//			if err := d.Configure(ctx, store.settings()); err != nil {
//				t.Fatal(err)
//			}
//			return secrets.NewHarness(t, d)
//		}, conformance.Options{
//			Put:     func(t *testing.T, v []byte) secrets.Ref { return store.put(t, v) },
//			Missing: func(t *testing.T) secrets.Ref { return store.missingRef() },
//		})
//	}
//
// Going through secrets.NewHarness checks the driver as hive sees it, over
// gRPC.
package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

// Options tell the suite how to use the driver's store.
type Options struct {
	// Put stores value in the driver's store under a name no other call
	// uses, and returns the Ref that reads it. Required. The suite puts
	// text values (UTF-8, several lines, up to 64 KiB).
	Put func(t *testing.T, value []byte) secrets.Ref
	// Missing returns a well-formed Ref that names nothing in the store.
	// Required.
	Missing func(t *testing.T) secrets.Ref
	// Invalid are Refs whose options the driver must refuse with
	// sdk.ErrInvalidArgument; a Ref with no options, and one with an
	// option named "no-such-option" added to a valid ref's, are always
	// checked.
	Invalid []secrets.Ref
	// Timeout bounds each call; 30s when zero.
	Timeout time.Duration
}

// Run runs the suite against the driver newDriver returns (called once),
// which must be configured and ready.
func Run(t *testing.T, newDriver func(t *testing.T) secrets.Driver, opts Options) {
	t.Helper()
	if opts.Put == nil || opts.Missing == nil {
		t.Fatal("secrets conformance: Options.Put and Options.Missing are required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	s := &suite{opts: opts, d: newDriver(t)}
	for _, c := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"describe names a secrets plugin and health is ok", s.testDescribe},
		{"a stored value reads back byte for byte", s.testRoundTrip},
		{"a value read twice reads the same and a new value is read at once", s.testFresh},
		{"a missing secret is not found", s.testMissing},
		{"malformed options are an invalid argument", s.testInvalid},
		{"errors do not contain the value", s.testNoValueInErrors},
		{"a cancelled context returns an error", s.testCancelled},
		{"concurrent reads", s.testConcurrent},
	} {
		t.Run(c.name, c.run)
	}
}

type suite struct {
	opts Options
	d    secrets.Driver
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func (s *suite) testDescribe(t *testing.T) {
	ctx := s.ctx(t)
	info, err := s.d.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if info.Kind != sdk.KindSecrets {
		t.Errorf("Describe: kind %q, want %q", info.Kind, sdk.KindSecrets)
	}
	if info.Name == "" || info.Version == "" {
		t.Errorf("Describe: %+v: name and version must be set", info)
	}
	if err := s.d.Health(ctx); err != nil {
		t.Errorf("Health of a configured driver with its store up: %v", err)
	}
}

// values are what the round trip stores.
func values() map[string][]byte {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	return map[string][]byte{
		"a word":                 []byte("s3cr3t"),
		"spaces and punctuation": []byte(` p@ss w0rd "quoted" #hash =eq; `),
		"several lines":          []byte("-----BEGIN KEY-----\nline one\nline two\n-----END KEY-----\n"),
		"utf-8":                  []byte("mot de passe: été ☃"),
		"64 KiB":                 big,
	}
}

func (s *suite) testRoundTrip(t *testing.T) {
	for name, want := range values() {
		t.Run(name, func(t *testing.T) {
			ref := s.opts.Put(t, want)
			v, err := s.d.Get(s.ctx(t), ref)
			if err != nil {
				t.Fatalf("Get(%v): %v", ref.Options, err)
			}
			if !bytes.Equal(v.Reveal(), want) {
				t.Fatalf("Get(%v): got %d bytes, want %d bytes (values differ)", ref.Options, v.Len(), len(want))
			}
		})
	}
}

func (s *suite) testFresh(t *testing.T) {
	ctx := s.ctx(t)
	ref := s.opts.Put(t, []byte("first"))
	for range 2 {
		v, err := s.d.Get(ctx, ref)
		if err != nil || string(v.Reveal()) != "first" {
			t.Fatalf("Get: %d bytes, %v; want the value stored", v.Len(), err)
		}
	}
}

func (s *suite) testMissing(t *testing.T) {
	ref := s.opts.Missing(t)
	v, err := s.d.Get(s.ctx(t), ref)
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Get(%v) = %d bytes, %v; want an error wrapping sdk.ErrNotFound", ref.Options, v.Len(), err)
	}
	if err.Error() == "" || err.Error() == sdk.ErrNotFound.Error() {
		t.Errorf("Get(%v): error %q does not say what is missing", ref.Options, err)
	}
}

func (s *suite) testInvalid(t *testing.T) {
	valid := s.opts.Put(t, []byte("valid"))
	extra := valid.Clone()
	if extra.Options == nil {
		extra.Options = map[string]string{}
	}
	extra.Options["no-such-option"] = "x"
	refs := append([]secrets.Ref{{}, extra}, s.opts.Invalid...)
	for i, ref := range refs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			v, err := s.d.Get(s.ctx(t), ref)
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Fatalf("Get(%v) = %d bytes, %v; want an error wrapping sdk.ErrInvalidArgument", ref.Options, v.Len(), err)
			}
		})
	}
}

func (s *suite) testNoValueInErrors(t *testing.T) {
	const value = "do-not-print-me-7f3a"
	ref := s.opts.Put(t, []byte(value))
	bad := ref.Clone()
	if bad.Options == nil {
		bad.Options = map[string]string{}
	}
	bad.Options["no-such-option"] = "x"
	if _, err := s.d.Get(s.ctx(t), bad); err == nil || strings.Contains(err.Error(), value) {
		t.Fatalf("Get with a bad option: %v: want an error without the value", err)
	}
	v, err := s.d.Get(s.ctx(t), ref)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if out := fmt.Sprintf("%v %+v %#v %s %q %x", v, v, v, v, v, v); strings.Contains(out, value) {
		t.Fatalf("a printed Value shows the plaintext: %s", out)
	}
}

func (s *suite) testCancelled(t *testing.T) {
	ref := s.opts.Put(t, []byte("cancelled"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.d.Get(ctx, ref); err == nil {
		t.Fatal("Get with a cancelled context: no error")
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	const n = 8
	refs := make([]secrets.Ref, n)
	for i := range refs {
		refs[i] = s.opts.Put(t, fmt.Appendf(nil, "value-%d", i))
	}
	ctx := s.ctx(t)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.d.Get(ctx, refs[i])
			if err == nil && string(v.Reveal()) != fmt.Sprintf("value-%d", i) {
				err = fmt.Errorf("ref %d read another value", i)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}
