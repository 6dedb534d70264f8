package commands

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestNewRootAddsExtraCommands(t *testing.T) {
	ran := ""
	extra := func(name string) *cobra.Command {
		return &cobra.Command{Use: name, RunE: func(*cobra.Command, []string) error { ran = name; return nil }}
	}
	root := NewRoot(RootOptions{Extra: []*cobra.Command{extra("up")}, PluginExtra: []*cobra.Command{extra("serve")}, Env: []string{}})
	for _, args := range [][]string{{"up"}, {"plugin", "serve"}} {
		root.SetArgs(args)
		if code := Execute(context.Background(), root); code != 0 || ran != args[len(args)-1] {
			t.Errorf("hive %v: exit %d, ran %q", args, code, ran)
		}
	}
	if _, _, err := root.Find([]string{"plugin", "ls"}); err != nil {
		t.Errorf("plugin ls is gone once PluginExtra is set: %v", err)
	}
}

func TestGroupsPrintHelp(t *testing.T) {
	for _, args := range [][]string{{"service"}, {"node"}, {"plugin"}, {}} {
		out, errOut, code := runCLI(t, []string{}, args...)
		if code != 0 || !strings.Contains(out, "Available Commands:") || errOut != "" {
			t.Errorf("hive %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

func TestEveryCommandHasHelpAndExample(t *testing.T) {
	root := NewRoot(RootOptions{Env: []string{}})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" {
			return
		}
		if c.Short == "" || c.Example == "" {
			t.Errorf("%q lacks a short description or an example", c.CommandPath())
		}
		var out bytes.Buffer
		c.SetOut(&out)
		if err := c.Help(); err != nil || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("%q --help: %v\n%s", c.CommandPath(), err, out.String())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func TestVersionFlag(t *testing.T) {
	root := NewRoot(RootOptions{Env: []string{}, Version: "0.1.0"})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--version"})
	if code := Execute(context.Background(), root); code != 0 || out.String() != "hive version 0.1.0\n" {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
}
