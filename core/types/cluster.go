package types

import "slices"

// DefaultTaskHistoryLimit is how many tasks a slot keeps, the running one
// included, when the cluster spec does not say.
const DefaultTaskHistoryLimit = 5

// ClusterID is the ID of the one cluster object in the store.
const ClusterID = "cluster"

// Cluster is the single record of cluster-wide settings.
type Cluster struct {
	ID string `json:"id"`
	Meta
	Spec ClusterSpec `json:"spec"`
	// CreatedBy is the ID of the node that bootstrapped the cluster.
	CreatedBy string `json:"created_by"`
	// JoinTokens are the generations of the join tokens. A token's secret
	// is derived from the CA key and its generation, so no secret is
	// stored; rotating a token bumps its generation.
	JoinTokens JoinTokens `json:"join_tokens"`
	// CertExpiry is how long the node certificates the managers issue
	// last; 0 means the default (90 days).
	CertExpiry Duration `json:"cert_expiry,omitempty"`
	// Encryption is how the managers keep the cluster's data-encryption
	// key at rest.
	Encryption Encryption `json:"encryption"`
}

// Encryption says how every manager keeps the cluster's data-encryption
// key (DEK), which seals secret values, in its data directory. The DEK
// itself is never stored in the cluster state: each manager keeps it
// wrapped, by a key-encryption key in its data directory or, with
// Autolock, by the unlock key that only the operator holds.
type Encryption struct {
	// Autolock wraps the DEK (and the CA key) by the unlock key: a
	// restarted manager stays locked until `hive unlock`.
	Autolock bool `json:"autolock,omitempty"`
	// UnlockKeyGeneration counts the unlock keys: enabling autolock and
	// each rotation bump it, and every manager rewraps its keys when it
	// sees it change.
	UnlockKeyGeneration uint64 `json:"unlock_key_generation,omitempty"`
	// SealedUnlockKey is the current unlock key sealed under the DEK, so
	// that every manager, which holds the DEK while it runs, can rewrap
	// its DEK with it. Opening it needs the DEK, which on disk is wrapped
	// by this very key: the data directory alone opens neither. The API
	// never returns it.
	SealedUnlockKey []byte `json:"sealed_unlock_key,omitempty"`
}

// JoinTokens holds the current generation of each role's join token.
type JoinTokens struct {
	Worker  uint64 `json:"worker"`
	Manager uint64 `json:"manager"`
}

// ClusterSpec holds cluster-wide settings.
type ClusterSpec struct {
	// TaskHistoryLimit is how many tasks each slot keeps, counting the
	// current one. Older terminated tasks are deleted.
	TaskHistoryLimit int `json:"task_history_limit"`
}

// Copy returns a copy of c.
func (c *Cluster) Copy() *Cluster {
	if c == nil {
		return nil
	}
	cp := *c
	cp.Encryption.SealedUnlockKey = slices.Clone(c.Encryption.SealedUnlockKey)
	return &cp
}
