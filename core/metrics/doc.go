// Package metrics builds the Prometheus registry a hive daemon serves on
// /metrics. Each daemon has its own registry (never the global default) so
// tests can build several side by side.
//
// Series derived from cluster state are computed at scrape time by
// ClusterCollector, which reads the store: nothing is kept in sync by hand.
// They are registered on managers only, and every manager reports the same
// cluster view, so a scrape config should aggregate with max() or scrape one
// manager, not sum across managers.
package metrics
