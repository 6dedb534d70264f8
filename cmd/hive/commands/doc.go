// Package commands is hive's command line: the cobra tree behind the hive
// binary, with Docker's verbs and flags (`hive service create`, `hive
// service ps`, `hive node ls`, ...).
//
// Every command here is a client of the HTTP API (package core/api/client):
// it parses and checks its input first, so a mistake is reported with what
// to fix before anything reaches the cluster, then makes API calls and
// renders the answer as a table (text/tabwriter, like docker) or, with
// --format json, as JSON.
//
// The daemon's commands (`hive up`, `hive down`, `hive plugin serve`, `hive
// config show`) are not built here: the caller passes them to NewRoot in
// RootOptions.Extra and RootOptions.PluginExtra. Execute runs the tree and
// turns an error into "Error: <message>" on stderr and exit status 1.
package commands
