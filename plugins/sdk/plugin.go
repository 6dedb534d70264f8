package sdk

import (
	"context"
)

// Kind is the kind of a plugin.
type Kind string

// Plugin kinds.
const (
	KindRuntime   Kind = "runtime"
	KindScheduler Kind = "scheduler"
	KindSecrets   Kind = "secrets"
	KindNetwork   Kind = "network"
)

// ProtocolVersion is the plugin protocol version. hive refuses a plugin
// whose handshake names another version. It changes only when a change to
// the protocol breaks older plugins.
const ProtocolVersion = 1

// Info describes a plugin, as returned by Describe.
type Info struct {
	// Name is the plugin's name, such as "runtime-docker".
	Name string `json:"name"`
	// Kind must match the kind hive loads the plugin as.
	Kind Kind `json:"kind"`
	// Version is the plugin's own version (semver recommended).
	Version string `json:"version"`
	// Capabilities lists optional features the plugin supports, such as
	// "logs.follow" or "stats" for a runtime.
	Capabilities []string `json:"capabilities,omitempty"`
}

// Base is implemented by every plugin, whatever its kind.
//
// Methods may be called concurrently and must be safe for that.
type Base interface {
	// Describe returns the plugin's identity. It must not block on
	// external systems.
	Describe(ctx context.Context) (Info, error)
	// Configure hands the plugin its settings from hive's configuration
	// (plugins.config.NAME.* keys). hive calls it once after each start of
	// the plugin process, before any other call but Describe. An error
	// names the bad setting; hive then reports the plugin as failed.
	Configure(ctx context.Context, settings map[string]string) error
	// Health returns nil when the plugin can serve requests, or an error
	// saying what is wrong (for a runtime: the engine is unreachable).
	Health(ctx context.Context) error
}
