// Package pluginhost starts hive's plugins and keeps them running. It is
// the one place in core that knows plugins are processes: the daemon asks
// it for a runtime or a scheduler by the name configured (plugins.runtime,
// plugins.scheduler) and gets back a proxy implementing the SDK interface,
// which the agent and the scheduler driver use as if it were in process.
// Secrets plugins (plugins.secrets) are reached by secret driver name
// through SecretDrivers, whose Fetch reads a driver-backed secret.
//
// A name is resolved to a built-in plugin (the hive binary re-executed as
// `hive plugin serve NAME`), a path, or an executable in plugins.dir. The
// process is started through hashicorp/go-plugin over gRPC, asked to
// Describe itself (its kind must match), then configured with its
// settings.
//
// One supervisor goroutine per plugin health-checks the process once as
// soon as it is configured (so that it shows as running or unhealthy from
// the start, never running while its engine is unreachable), then every
// HealthInterval, and restarts it, with exponential backoff, when it exits
// or stops answering. A plugin that answers but reports a problem (its
// engine is unreachable) is marked unhealthy and left running. A plugin
// that cannot work until the operator acts (wrong kind, bad settings, a
// first start that fails) is marked failed and not retried.
//
// The proxies outlive the processes: a call goes to the process running at
// that moment, and fails at once with an error wrapping sdk.ErrUnavailable
// while there is none, so callers retry as they do for any unavailable
// plugin. Every wait uses the injected clock.
package pluginhost
