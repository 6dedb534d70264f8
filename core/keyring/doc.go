// Package keyring keeps a manager's copy of the cluster's data-encryption
// key (DEK) in its data directory, never in plaintext.
//
// The DEK seals secret values (core/seal). Every manager holds the same
// DEK: the first manager creates it with the cluster, and a manager that
// joins or is promoted receives it over the mutually authenticated join or
// certificate-renewal exchange. The DEK never enters the Raft log.
//
// On disk, under DATA_DIR/keys, the DEK is wrapped (sealed) either
//
//   - by a key-encryption key (KEK) kept beside it in the file "kek"
//     (mode 0600): the manager restarts unattended; or
//   - with autolock, by an unlock key that only the operator holds
//     ("HIVEKEY-1-..."): no KEK is on disk, the cluster CA's private key
//     is wrapped with the DEK's wrapping too (and removed from the
//     certificate directory), and a restarted manager is locked until
//     `hive unlock` gives the key back.
//
// The wrapped keys live in "keys.json". Files are replaced atomically;
// a rewrap writes the new wrapping before it deletes what the old one
// needed, so a crash leaves a keyring that opens one way or the other.
package keyring
