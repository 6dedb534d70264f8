package spread

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
)

func TestDescribeNamesTheSpreadScheduler(t *testing.T) {
	info, err := newTestScheduler(t).Describe(context.Background())
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if info.Name != "scheduler-spread" || info.Kind != sdk.KindScheduler || info.Version != Version {
		t.Errorf("Describe = %+v, want name scheduler-spread, kind scheduler, version %s", info, Version)
	}
	wantCaps := []string{"constraints", "resources", "host-ports", "spread"}
	if !slices.Equal(info.Capabilities, wantCaps) {
		t.Errorf("capabilities = %v, want %v", info.Capabilities, wantCaps)
	}
	// The caller owns the returned slice.
	info.Capabilities[0] = "changed"
	again, _ := newTestScheduler(t).Describe(context.Background())
	if !slices.Equal(again.Capabilities, wantCaps) {
		t.Errorf("capabilities after caller changed a copy = %v, want %v", again.Capabilities, wantCaps)
	}
}

func TestHealthIsAlwaysNil(t *testing.T) {
	if err := newTestScheduler(t).Health(context.Background()); err != nil {
		t.Errorf("Health = %v, want nil", err)
	}
}

func TestConfigureAcceptsOnlyTheSpreadStrategy(t *testing.T) {
	cases := []struct {
		name     string
		settings map[string]string
		// wantIn are the substrings the error must hold; none means no error.
		wantIn []string
	}{
		{name: "nil settings", settings: nil},
		{name: "empty settings", settings: map[string]string{}},
		{name: "strategy spread", settings: map[string]string{"strategy": "spread"}},
		{
			name:     "other strategy",
			settings: map[string]string{"strategy": "binpack"},
			wantIn:   []string{`"strategy"`, `"binpack"`, `"spread"`},
		},
		{
			name:     "empty strategy",
			settings: map[string]string{"strategy": ""},
			wantIn:   []string{`"strategy"`, `"spread"`},
		},
		{
			name:     "strategy is case-sensitive",
			settings: map[string]string{"strategy": "Spread"},
			wantIn:   []string{`"strategy"`, `"Spread"`, `"spread"`},
		},
		{
			name:     "unknown key",
			settings: map[string]string{"weights": "cpu"},
			wantIn:   []string{`"weights"`, `"strategy"`, `"spread"`},
		},
		{
			name:     "unknown key beside a valid strategy",
			settings: map[string]string{"strategy": "spread", "max_tasks": "10"},
			wantIn:   []string{`"max_tasks"`, `"strategy"`, `"spread"`},
		},
		{
			name:     "first bad key in sorted order",
			settings: map[string]string{"zz": "1", "aa": "1"},
			wantIn:   []string{`"aa"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := newTestScheduler(t).Configure(context.Background(), tc.settings)
			if len(tc.wantIn) == 0 {
				if err != nil {
					t.Fatalf("Configure = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Configure = nil, want an error")
			}
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("Configure = %v, want it to wrap sdk.ErrInvalidArgument", err)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Configure = %q, want it to name %s", err, s)
				}
			}
		})
	}
}

func TestNewWithNilLoggerDiscardsLogs(t *testing.T) {
	s := New(nil)
	if err := s.Configure(context.Background(), nil); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}
