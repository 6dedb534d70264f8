//go:build acceptance

package acceptance

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape fetches the node's /metrics (URL from hive info --format json) and
// returns each sample line's value by its series ("name{labels}").
func (n *node) scrape() (map[string]float64, error) {
	url, _ := n.info()["metrics_url"].(string)
	if url == "" {
		return nil, stop(fmt.Errorf("hive info has no metrics_url"))
	}
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("bad sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, nil
}

func TestMetricsServiceReplicas(t *testing.T) {
	n := startHive(t)
	name := uniq("metrics")
	n.must("service", "create", "-d", "--name", name, "--replicas", "2", "hive-test/web:v1")

	wantRunning := func(want float64) func() error {
		return func() error {
			m, err := n.scrape()
			if err != nil {
				return err
			}
			key := `hive_service_replicas_running{service="` + name + `"}`
			if m[key] != want {
				return fmt.Errorf("%s = %v, want %v", key, m[key], want)
			}
			if d := m[`hive_service_replicas_desired{service="`+name+`"}`]; d != want {
				return fmt.Errorf("desired = %v, want %v", d, want)
			}
			return nil
		}
	}
	n.eventually(60*time.Second, "2 replicas running in /metrics", wantRunning(2))
	n.must("service", "scale", name+"=4")
	n.eventually(60*time.Second, "4 replicas running in /metrics", wantRunning(4))

	// The task gauge by state matches hive service ps.
	n.eventually(30*time.Second, "task gauge matches service ps", func() error {
		byState := map[string]float64{}
		for _, tk := range n.tasks(name) {
			byState[tk.Status.State]++
		}
		m, err := n.scrape()
		if err != nil {
			return err
		}
		got := map[string]float64{}
		prefix := `hive_service_tasks{service="` + name + `",state="`
		for k, v := range m {
			if strings.HasPrefix(k, prefix) {
				got[strings.TrimSuffix(strings.TrimPrefix(k, prefix), `"}`)] = v
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(byState) {
			return fmt.Errorf("hive_service_tasks = %v, service ps = %v", got, byState)
		}
		if got["running"] != 4 {
			return fmt.Errorf("running tasks = %v, want 4", got["running"])
		}
		return nil
	})
	m, err := n.scrape()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m["hive_tasks_pending"]; !ok || v != 0 {
		t.Errorf("hive_tasks_pending = %v (present %v), want 0 once converged", v, ok)
	}
	if m["process_resident_memory_bytes"] <= 0 || m["go_goroutines"] <= 0 {
		t.Errorf("process/go series missing or zero: rss=%v goroutines=%v", m["process_resident_memory_bytes"], m["go_goroutines"])
	}
}
