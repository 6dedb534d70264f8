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
