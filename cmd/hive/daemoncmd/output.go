package daemoncmd

import (
	"encoding/json"
	"io"
	"strings"
	"text/tabwriter"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeTable(w io.Writer, header []string, rows func(row func(...string))) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	io.WriteString(tw, strings.Join(header, "\t")+"\n")
	rows(func(cols ...string) { io.WriteString(tw, strings.Join(cols, "\t")+"\n") })
	return tw.Flush()
}
