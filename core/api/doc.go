// Package api is hive's HTTP/JSON API: the one door through which the CLI
// (and any other client) reads and changes the cluster. The daemon serves
// it on a unix socket locally (ListenUnix) and, later, on mutual-TLS TCP.
//
// The package holds no cluster logic. A Server translates HTTP requests
// into calls on a Backend, which the daemon implements on top of the store
// and the controllers, and translates the Backend's answers back: values as
// JSON with snake_case names, errors as {"message": ..., "kind": ...} with
// an HTTP status chosen from the error's errdefs kind, so a client can tell
// a bad request (400) from a missing object (404), a lost race (409) or a
// cluster that cannot serve right now (503) without parsing text.
//
// Every route lives under /v1; docs/api.md lists them with examples. The Go
// client in package api/client speaks this protocol and implements Backend
// itself, so code written against Backend runs in-process or remotely.
package api
