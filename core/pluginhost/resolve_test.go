package pluginhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "runtime-ext")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "runtime-plain")
	if err := os.WriteFile(plain, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Executable: "/usr/bin/hive", Builtins: []string{"runtime-docker", "scheduler-spread"}, Dir: dir})
	t.Cleanup(func() { _ = h.Close() })

	tests := []struct {
		name       string
		spec       Spec
		wantPath   string
		wantArgs   string
		wantSource string
		wantErr    []string
	}{
		{
			name:       "built-in runs the hive binary",
			spec:       Spec{Name: "runtime-docker", Kind: sdk.KindRuntime},
			wantPath:   "/usr/bin/hive",
			wantArgs:   "plugin serve runtime-docker",
			wantSource: SourceBuiltin,
		},
		{
			name:       "bare name found in plugins.dir",
			spec:       Spec{Name: "runtime-ext", Kind: sdk.KindRuntime},
			wantPath:   exe,
			wantSource: exe,
		},
		{
			name:       "a path",
			spec:       Spec{Name: exe, Kind: sdk.KindRuntime},
			wantPath:   exe,
			wantSource: exe,
		},
		{
			name: "unknown name",
			spec: Spec{Name: "runtime-nope", Kind: sdk.KindRuntime},
			wantErr: []string{
				`plugin "runtime-nope" not found`,
				"built-ins: runtime-docker, scheduler-spread",
				"plugins.dir " + dir,
				filepath.Join(dir, "runtime-nope") + " does not exist",
				"set plugins.runtime to a built-in name or the path of an executable",
			},
		},
		{
			name:    "not executable",
			spec:    Spec{Name: "runtime-plain", Kind: sdk.KindRuntime},
			wantErr: []string{plain + " is not executable", "set plugins.runtime"},
		},
		{
			name:    "missing path",
			spec:    Spec{Name: "/nowhere/sched", Kind: sdk.KindScheduler},
			wantErr: []string{"plugin /nowhere/sched: /nowhere/sched does not exist", "set plugins.scheduler to a built-in name"},
		},
		{
			name:    "a directory",
			spec:    Spec{Name: dir + "/", Kind: sdk.KindScheduler},
			wantErr: []string{"is a directory"},
		},
		{
			name:    "empty name",
			spec:    Spec{Kind: sdk.KindScheduler},
			wantErr: []string{"no scheduler plugin configured", "set plugins.scheduler"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := h.resolve(tt.spec)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("resolved to %+v, want an error", src)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if src.path != tt.wantPath || strings.Join(src.args, " ") != tt.wantArgs || src.source != tt.wantSource {
				t.Fatalf("resolved to %+v", src)
			}
		})
	}
}

func TestUnknownNameWithoutPluginsDir(t *testing.T) {
	h := New(Config{Builtins: []string{"runtime-docker"}})
	t.Cleanup(func() { _ = h.Close() })
	_, err := h.Runtime(t.Context(), Spec{Name: "runtime-nope"})
	if err == nil || !strings.Contains(err.Error(), "plugins.dir is not set") || !strings.Contains(err.Error(), "runtime-docker") {
		t.Fatalf("err = %v", err)
	}
	if len(h.List()) != 0 {
		t.Fatalf("a plugin that did not resolve is listed: %+v", h.List())
	}
}
