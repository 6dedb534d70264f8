// Package sdk is what a hive plugin author imports. A plugin is a separate
// executable that hive starts as a subprocess and talks to over gRPC
// through hashicorp/go-plugin; hive's own first-party plugins are the same
// code served by the hive binary itself (`hive plugin serve NAME`).
//
// Each plugin kind has its own package: runtime (runs containers),
// scheduler (places tasks on nodes), secrets (reads secret values from
// an external store such as Vault) and network (programs a node's part of
// hive's networks). Every kind shares the Base methods defined here:
// Describe, Configure and Health. This package and its children never
// import hive's core.
//
// To write a plugin: implement the kind's interface, call its Serve from
// main, and run the kind's conformance suite against your implementation in
// a test (see docs/plugins.md).
package sdk
