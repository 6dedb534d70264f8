// Package seal encrypts secret values at rest: nacl/secretbox under a
// 32-byte data-encryption key (DEK) shared by every manager, with a fresh
// random nonce per value.
//
// Sealing happens in the managers' API path, before a value enters a Raft
// command, so the Raft log, its snapshots and the in-memory state hold
// only sealed bytes. The DEK itself never enters Raft: each manager keeps
// it in its data directory wrapped by a key-encryption key (see
// core/keyring), and a joining manager receives it over the mutually
// authenticated join protocol.
//
// A Key never prints: its String, GoString, LogValue and JSON forms
// redact, like types.SecretValue.
package seal
