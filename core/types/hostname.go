package types

import (
	"errors"
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
// Its errors say what is wrong with the template, for the caller to name.
func ExpandHostname(tmpl string, d HostnameData) (string, error) {
	out := tmpl
	if strings.Contains(tmpl, "{{") {
		t, err := template.New("hostname").Option("missingkey=error").Parse(tmpl)
		if err != nil {
			return "", fmt.Errorf("not a template: %w", err)
		}
		var b strings.Builder
		if err := t.Execute(&b, d); err != nil {
			return "", errors.New("it names a field there is not: use {{.Service.ID}}, {{.Service.Name}}, {{.Task.ID}}, {{.Task.Name}}, {{.Task.Slot}}, {{.Node.ID}} or {{.Node.Hostname}}")
		}
		out = b.String()
	}
	if len(out) > 253 || !hostnameRE.MatchString(out) {
		what := "it is not"
		if out != tmpl {
			what = fmt.Sprintf("it gives %q, which is not", out)
		}
		return "", fmt.Errorf("%s a hostname: use letters, digits, '-' and '.', at most 63 characters between dots", what)
	}
	return out, nil
}

// SampleHostnameData has a sample value for every field a hostname
// template may name, to check a template before any task has it.
func SampleHostnameData() HostnameData {
	var d HostnameData
	d.Service.ID, d.Service.Name = "s0123456789abcdef", "web"
	d.Task.ID, d.Task.Name, d.Task.Slot = "t0123456789abcdef", "web.1", 1
	d.Node.ID, d.Node.Hostname = "n0123456789abcdef", "node-1"
	return d
}

// ValidateHostname checks a container hostname template against sample
// values of every field it may name.
func ValidateHostname(tmpl string) error {
	if _, err := ExpandHostname(tmpl, SampleHostnameData()); err != nil {
		return fmt.Errorf("invalid hostname %q: %w", tmpl, err)
	}
	return nil
}
