// Package pb is the Go code generated from plugins/sdk/proto (package
// hive.plugin.v1): the wire form of hive's plugin protocol. Only the SDK's
// client and server adapters use it; regenerate it with
// `go generate ./plugins/sdk/proto`.
package pb
