package stack

import (
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/tree"
	"go.yaml.in/yaml/v4"
)

// sources are the compose files as written, to say in an error or a
// warning which file (and line) a key of the merged model comes from.
type sources []source

type source struct {
	file string
	root *yaml.Node
}

// readSources parses each file for its node tree; a file that does not
// parse is left out (compose-go reports it, with its line).
func readSources(files []string) sources {
	var out sources
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var doc yaml.Node
		if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
			continue
		}
		out = append(out, source{file: f, root: doc.Content[0]})
	}
	return out
}

// locate returns "FILE:LINE" of the key at p in the last file that sets
// it (later files override earlier ones), or of its closest ancestor
// written out (a port given as "8080:80" has no host_ip key to point at);
// "" when no file has any of it.
func (s sources) locate(p tree.Path) string {
	parts := p.Parts()
	for n := len(parts); n > 0; n-- {
		for i := len(s) - 1; i >= 0; i-- {
			if line := find(s[i].root, parts[:n]); line > 0 {
				return fmt.Sprintf("%s:%d", s[i].file, line)
			}
		}
	}
	return ""
}

// sets reports whether some file sets the key at p itself.
func (s sources) sets(p tree.Path) bool {
	for _, src := range s {
		if find(src.root, p.Parts()) > 0 {
			return true
		}
	}
	return false
}

// find returns the line of the key at parts under n, 0 when absent.
func find(n *yaml.Node, parts []string) int {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if len(parts) == 0 {
		return n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		want := strings.ReplaceAll(parts[0], "👻", ".")
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value != want {
				continue
			}
			if len(parts) == 1 {
				return n.Content[i].Line
			}
			return find(n.Content[i+1], parts[1:])
		}
	case yaml.SequenceNode:
		if parts[0] != tree.PathMatchList {
			return 0
		}
		for _, item := range n.Content {
			if line := find(item, parts[1:]); line > 0 {
				return line
			}
		}
	}
	return 0
}
