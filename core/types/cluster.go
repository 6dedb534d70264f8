package types

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
	return &cp
}
