// Package api is hive's HTTP/JSON API: the one door through which the CLI
// (and any other client) reads and changes the cluster. The daemon serves
// it on a unix socket (ListenUnix, unrestricted, guarded by the socket's
// file permissions) and on the cluster port over mutual TLS
// (ServeRestricted, for manager and client certificates only; RequireRoles).
// An autolocked manager that restarted serves a reduced API until it is
// unlocked (NewLockedServer: info, unlock and shutdown).
//
// The package holds no cluster logic. A Server translates HTTP requests
// into calls on a Backend and translates the answers back: values as JSON
// with snake_case names, errors as {"message": ..., "kind": ...} with an
// HTTP status chosen from the error's errdefs kind, so a client can tell a
// bad request (400) from a missing object (404), a lost race (409) or a
// cluster that cannot serve right now (503) without parsing text. Log
// streams are NDJSON; an error after the first line is sent as a last
// StreamError line.
//
// On a manager the Backend is core/controlapi (resolving references,
// validating specs, writing the store) plus what only the daemon knows
// (Info, Plugins, Shutdown, the Raft group); on a worker it answers only
// for the node itself. Package api/apitest is the same control logic over a
// memory store, for tests. The Go client in package api/client speaks this
// protocol and implements Backend itself, so code written against Backend
// runs in-process or remotely. Every route lives under /v1; docs/api.md
// lists them with examples.
package api
