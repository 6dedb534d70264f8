package types

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

// HostnameData is what a container hostname template may name, as in
// Swarm's `--hostname "{{.Node.Hostname}}-{{.Task.Slot}}"`.
type HostnameData struct {
	Service struct{ ID, Name string }
	Task    struct {
		ID, Name string
		Slot     uint64
	}
	Node struct{ ID, Hostname string }
}

// hostnameRE is a hostname: dot-separated labels of letters, digits and
// inner hyphens, each at most 63 characters.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// ExpandHostname fills a hostname template with d and checks the result
// is a hostname. A template without placeholders is returned as it is.
func ExpandHostname(tmpl string, d HostnameData) (string, error) {
	out := tmpl
	if strings.Contains(tmpl, "{{") {
		t, err := template.New("hostname").Option("missingkey=error").Parse(tmpl)
		if err != nil {
			return "", fmt.Errorf("invalid hostname template %q: %w", tmpl, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, d); err != nil {
			return "", fmt.Errorf("invalid hostname template %q: use {{.Service.ID}}, {{.Service.Name}}, {{.Task.ID}}, {{.Task.Name}}, {{.Task.Slot}}, {{.Node.ID}} or {{.Node.Hostname}}: %w", tmpl, err)
		}
		out = b.String()
	}
	if len(out) > 253 || !hostnameRE.MatchString(out) {
		return "", fmt.Errorf("invalid hostname %q: use letters, digits, '-' and '.', at most 63 characters between dots", out)
	}
	return out, nil
}

// ValidateHostname checks a container hostname template against sample values of
// every field it may name.
func ValidateHostname(tmpl string) error {
	var d HostnameData
	d.Service.ID, d.Service.Name = "s0123456789abcdef", "web"
	d.Task.ID, d.Task.Name, d.Task.Slot = "t0123456789abcdef", "web.1", 1
	d.Node.ID, d.Node.Hostname = "n0123456789abcdef", "node-1"
	_, err := ExpandHostname(tmpl, d)
	return err
}
