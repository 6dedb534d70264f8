package secrets_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/secrets"
	"github.com/hiveorch/hive/plugins/sdk/secrets/conformance"
)

func fakeOptions(f *secrets.Fake) conformance.Options {
	var n atomic.Int64
	return conformance.Options{
		Put: func(t *testing.T, value []byte) secrets.Ref {
			return f.Set(fmt.Sprintf("s%d", n.Add(1)), value)
		},
		Missing: func(t *testing.T) secrets.Ref {
			return secrets.Ref{Options: map[string]string{secrets.FakeOption: "missing"}}
		},
		Invalid: []secrets.Ref{{Options: map[string]string{secrets.FakeOption: " "}}},
	}
}

func TestFakeConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		f := secrets.NewFake()
		conformance.Run(t, func(t *testing.T) secrets.Driver { return f }, fakeOptions(f))
	})
	t.Run("through the gRPC harness", func(t *testing.T) {
		f := secrets.NewFake()
		conformance.Run(t, func(t *testing.T) secrets.Driver { return secrets.NewHarness(t, f) }, fakeOptions(f))
	})
}
