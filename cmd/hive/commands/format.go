package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/types"
)

// Output formats of the read commands.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// addFormatFlag adds --format to a read command.
func addFormatFlag(cmd *cobra.Command, dst *string, def string) {
	usage := "output `FORMAT`: table or json"
	if def == formatJSON {
		usage = "output `FORMAT`: json (the only one)"
	}
	cmd.Flags().StringVar(dst, "format", def, usage)
}

// checkFormat validates a --format value against the allowed ones.
func checkFormat(value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fmt.Errorf("invalid --format %q: want %s", value, strings.Join(allowed, " or "))
}

// writeJSON prints v as indented JSON, as docker inspect does.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// table writes aligned columns like docker's tables: columns padded with
// three spaces, no trailing blanks.
type table struct {
	out io.Writer
	buf strings.Builder
	tw  *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{out: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 3, ' ', 0)
	t.row(headers...)
	return t
}

func (t *table) row(cols ...string) {
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		if line == "" {
			continue
		}
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	_, err := io.WriteString(t.out, b.String())
	return err
}

// truncID shortens an ID to 12 characters, as docker does.
func truncID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// capitalize returns s with its first letter upper-cased ("running" ->
// "Running"), as docker prints states.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ago renders the time since t like docker: "5 seconds ago", "About a
// minute ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return strings.ToLower(units.HumanDuration(d)) + " ago"
}

// imageName drops a digest from an image reference for display.
func imageName(image string) string {
	if i := strings.Index(image, "@sha256:"); i >= 0 {
		return image[:i]
	}
	return image
}

// formatPorts renders a service's ports as docker service ls does:
// ingress ports as "*:8080->80/tcp", with consecutive ports folded into
// ranges ("*:8080-8081->80-81/tcp"); host-mode ports, which docker leaves
// out, as "8080->80/tcp (host)".
func formatPorts(ports []types.PortConfig) string {
	var ingress, host []types.PortConfig
	for _, p := range ports {
		if p.PublishMode == types.PublishHost {
			host = append(host, p)
		} else {
			ingress = append(ingress, p)
		}
	}
	sort.SliceStable(ingress, func(i, j int) bool {
		a, b := ingress[i], ingress[j]
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		if a.PublishedPort != b.PublishedPort {
			return a.PublishedPort < b.PublishedPort
		}
		return a.TargetPort < b.TargetPort
	})
	var out []string
	for i := 0; i < len(ingress); {
		start := ingress[i]
		j := i + 1
		for j < len(ingress) && start.PublishedPort != 0 &&
			ingress[j].Protocol == start.Protocol &&
			ingress[j].PublishedPort == start.PublishedPort+uint32(j-i) &&
			ingress[j].TargetPort == start.TargetPort+uint32(j-i) {
			j++
		}
		end := ingress[j-1]
		out = append(out, "*:"+portRange(start.PublishedPort, end.PublishedPort)+"->"+
			portRange(start.TargetPort, end.TargetPort)+"/"+protocol(start.Protocol))
		i = j
	}
	for _, p := range host {
		out = append(out, fmt.Sprintf("%s->%d/%s (host)", publishedPort(p.PublishedPort), p.TargetPort, protocol(p.Protocol)))
	}
	return strings.Join(out, ", ")
}

func portRange(a, b uint32) string {
	if a == b {
		return publishedPort(a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// publishedPort renders a published port; 0 means not allocated yet.
func publishedPort(p uint32) string {
	if p == 0 {
		return "?"
	}
	return fmt.Sprint(p)
}

func protocol(p types.Protocol) string {
	if p == "" {
		return string(types.ProtocolTCP)
	}
	return string(p)
}

// taskPorts renders a task's host-mode ports as docker service ps does.
func taskPorts(ports []types.PortConfig) string {
	var out []string
	for _, p := range ports {
		if p.PublishMode == types.PublishHost {
			out = append(out, fmt.Sprintf("*:%d->%d/%s", p.PublishedPort, p.TargetPort, protocol(p.Protocol)))
		}
	}
	return strings.Join(out, ",")
}

// servicePorts picks the ports to show for a service: the allocated ones,
// or the spec's until they are allocated.
func servicePorts(s *types.Service) []types.PortConfig {
	if len(s.Endpoint.Ports) > 0 {
		return s.Endpoint.Ports
	}
	return s.Spec.Endpoint.Ports
}
