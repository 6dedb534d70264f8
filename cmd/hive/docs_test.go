package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md's command reference from the command tree")

const (
	cliDoc        = "../../docs/cli.md"
	generateBegin = "<!-- BEGIN GENERATED: go test ./cmd/hive -run TestCLIDoc -args -update -->\n"
	generateEnd   = "<!-- END GENERATED -->\n"
)

// cliReference renders the command reference of the whole hive binary.
func cliReference() string {
	var b strings.Builder
	root := newRoot([]string{})
	fmt.Fprintf(&b, "### Global flags\n\n```\n%s```\n", flagUsages(root.PersistentFlags().FlagUsages()))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Hidden {
				continue
			}
			fmt.Fprintf(&b, "\n### %s\n\n%s.\n\n```\n%s\n```\n", sub.CommandPath(), sub.Short, sub.UseLine())
			if sub.Long != "" {
				fmt.Fprintf(&b, "\n%s\n", sub.Long)
			}
			if len(sub.Aliases) > 0 {
				fmt.Fprintf(&b, "\nAliases: `%s`\n", strings.Join(sub.Aliases, "`, `"))
			}
			if f := flagUsages(sub.NonInheritedFlags().FlagUsages()); f != "" {
				fmt.Fprintf(&b, "\nFlags:\n\n```\n%s```\n", f)
			}
			if sub.Example != "" {
				fmt.Fprintf(&b, "\nExamples:\n\n```\n%s\n```\n", sub.Example)
			}
			walk(sub)
		}
	}
	walk(root)
	return b.String()
}

// flagUsages drops the help flag and blanks pflag's "[=true|false]"
// marks, keeping the columns aligned.
func flagUsages(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.Contains(line, "--help") || line == "" {
			continue
		}
		b.WriteString(strings.Replace(line, "[=true|false]", "             ", 1))
	}
	return b.String()
}

func TestCLIDocIsCurrent(t *testing.T) {
	doc, err := os.ReadFile(cliDoc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i, j := strings.Index(text, generateBegin), strings.Index(text, generateEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated section markers", cliDoc)
	}
	fresh := text[:i+len(generateBegin)] + cliReference() + text[j:]
	if fresh == text {
		return
	}
	if *update {
		if err := os.WriteFile(cliDoc, []byte(fresh), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the commands: run go test ./cmd/hive -run TestCLIDoc -args -update", cliDoc)
}
