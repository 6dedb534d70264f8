// Package proto holds the protobuf definitions of hive's plugin protocol
// (package hive.plugin.v1): base.proto for the calls every plugin kind
// shares, and one file per kind (runtime, scheduler, secrets, network).
// The generated Go code lives in plugins/sdk/internal/pb; plugin authors
// never use it directly, the kinds' packages wrap it.
//
// Regenerate with `go generate ./plugins/sdk/proto` from the repository
// root; it needs protoc, protoc-gen-go and protoc-gen-go-grpc on PATH.
package proto

//go:generate protoc --proto_path=. --go_out=../internal/pb --go_opt=paths=source_relative --go-grpc_out=../internal/pb --go-grpc_opt=paths=source_relative,require_unimplemented_servers=false base.proto runtime.proto scheduler.proto secrets.proto network.proto
