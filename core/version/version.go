// Package version holds hive's version, set at build time with
// -ldflags "-X github.com/hiveorch/hive/core/version.Version=…".
package version

// Version is hive's version.
var Version = "0.1.0-dev"
