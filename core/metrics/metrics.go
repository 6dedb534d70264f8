package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// Viewer is the part of the store the cluster collector reads.
type Viewer interface {
	View(fn func(store.ReadTx))
}

// NewRegistry returns a daemon's registry with the Go and process
// collectors. When st is not nil (a manager) the cluster-state collector is
// registered too.
func NewRegistry(st Viewer) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if st != nil {
		reg.MustRegister(NewClusterCollector(st))
	}
	return reg
}

var (
	descTasks = prometheus.NewDesc("hive_service_tasks",
		"Tasks of a service by observed state.", []string{"service", "state"}, nil)
	descDesired = prometheus.NewDesc("hive_service_replicas_desired",
		"Tasks a service should run: replicas for a replicated service, tasks desired running for a global one.",
		[]string{"service"}, nil)
	descRunning = prometheus.NewDesc("hive_service_replicas_running",
		"Tasks of a service observed running.", []string{"service"}, nil)
	descPending = prometheus.NewDesc("hive_tasks_pending",
		"Tasks in the cluster waiting to be scheduled (observed state pending).", nil, nil)
)

// ClusterCollector computes the cluster-state series from the store at
// scrape time.
type ClusterCollector struct {
	st Viewer
}

// NewClusterCollector returns a collector that reads st on each scrape.
func NewClusterCollector(st Viewer) *ClusterCollector { return &ClusterCollector{st: st} }

// Describe sends the descriptors of every series the collector emits.
func (c *ClusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTasks
	ch <- descDesired
	ch <- descRunning
	ch <- descPending
}

// serviceCounts is what one service contributes to a scrape.
type serviceCounts struct {
	name    string
	desired int
	running int
	states  map[types.TaskState]int
}

// Snapshot is the cluster view one scrape reports; Compute builds it from a
// read transaction and is pure.
type Snapshot struct {
	services []serviceCounts
	pending  int
}

// Compute counts the services and tasks visible in tx.
func Compute(tx store.ReadTx) Snapshot {
	var snap Snapshot
	for _, svc := range tx.Services() {
		sc := serviceCounts{name: svc.Spec.Name, states: map[types.TaskState]int{}}
		if svc.Spec.Mode != types.ModeGlobal {
			sc.desired = int(svc.Spec.Replicas)
		}
		for _, t := range tx.TasksByService(svc.ID) {
			sc.states[t.Status.State]++
			if t.Status.State == types.TaskStateRunning {
				sc.running++
			}
			if svc.Spec.Mode == types.ModeGlobal && t.DesiredState == types.TaskStateRunning {
				sc.desired++
			}
		}
		snap.services = append(snap.services, sc)
	}
	for _, t := range tx.Tasks() {
		if t.Status.State == types.TaskStatePending {
			snap.pending++
		}
	}
	sort.Slice(snap.services, func(i, j int) bool { return snap.services[i].name < snap.services[j].name })
	return snap
}

// Collect reads the store once and sends every cluster-state series.
func (c *ClusterCollector) Collect(ch chan<- prometheus.Metric) {
	var snap Snapshot
	c.st.View(func(tx store.ReadTx) { snap = Compute(tx) })
	for _, sc := range snap.services {
		ch <- prometheus.MustNewConstMetric(descDesired, prometheus.GaugeValue, float64(sc.desired), sc.name)
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, float64(sc.running), sc.name)
		for state, n := range sc.states {
			ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(n), sc.name, state.String())
		}
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(snap.pending))
}
