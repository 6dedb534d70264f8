package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// fixture is an isolated machine for one Load: its own home, working and
// system directories, and no real environment.
type fixture struct {
	home, work, system string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	root := t.TempDir()
	f := fixture{
		home:   filepath.Join(root, "home"),
		work:   filepath.Join(root, "work"),
		system: filepath.Join(root, "etc-hive"),
	}
	for _, d := range []string{f.home, f.work, f.system} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// write writes a file below dir and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// load runs Load on the fixture as an unprivileged user. opts.Home and
// opts.WorkDir default to the fixture's.
func (f fixture) load(opts LoadOptions) (*Config, error) {
	if opts.Home == "" {
		opts.Home = f.home
	}
	if opts.WorkDir == "" {
		opts.WorkDir = f.work
	}
	if opts.Env == nil {
		opts.Env = []string{}
	}
	return load(opts, sysEnv{euid: 1000, systemDir: f.system})
}

// mustLoad is load that fails the test on error.
func (f fixture) mustLoad(t *testing.T, opts LoadOptions) *Config {
	t.Helper()
	c, err := f.load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// testFlagKeys is how cmd/hive is expected to map its flags.
var testFlagKeys = map[string]string{
	"data-dir":       "data_dir",
	"host":           "host",
	"log-level":      "log.level",
	"listen-addr":    "listen_addr",
	"raft-heartbeat": "raft.heartbeat_timeout",
	"history-limit":  "tasks.history_limit",
	"docker-socket":  "plugins.config.runtime-docker.socket_path",
}

// flags returns a flag set like the CLI's, parsed from args.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("hive", pflag.ContinueOnError)
	fs.String("data-dir", "/ignored/default", "")
	fs.StringP("host", "H", "", "")
	fs.String("log-level", "info", "")
	fs.String("listen-addr", "", "")
	fs.Duration("raft-heartbeat", 0, "")
	fs.Int("history-limit", 5, "")
	fs.String("docker-socket", "", "")
	fs.Bool("verbose", false, "not a config flag")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// entry returns the Entry for key, failing the test if there is none.
func entry(t *testing.T, c *Config, key string) Entry {
	t.Helper()
	for _, e := range c.Entries() {
		if e.Key == key {
			return e
		}
	}
	t.Fatalf("no entry %q", key)
	return Entry{}
}

// wantErrContains fails unless err is non-nil and contains every part.
func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load succeeded, want an error containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not contain %q:\n%v", p, err)
		}
	}
}
