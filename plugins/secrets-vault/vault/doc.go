// Package vault is the secrets-vault plugin: a secrets.Driver that reads
// the values of hive's driver-backed secrets from HashiCorp Vault's KV
// version 2 secrets engine, authenticating with a token or with AppRole.
//
// A secret names its value with one option, path:
//
//	path=MOUNT/data/SECRET#FIELD   the KV v2 API path (secret/data/app#password)
//	path=MOUNT/SECRET#FIELD        the same, as `vault kv get` writes it (secret/app#password)
//
// and optionally version=N to pin a version. See docs/secrets-vault.md for
// the settings and the whole syntax.
//
// The driver never logs or returns in errors a value, a token or a
// secret ID. It keeps no values: each Get reads Vault.
package vault
