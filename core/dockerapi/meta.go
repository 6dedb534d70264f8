package dockerapi

import (
	"github.com/moby/moby/api/types/swarm"

	"github.com/hiveorch/hive/core/types"
)

// metaToDocker is hive's bookkeeping of an object as swarm's: the version
// is hive's object version, the times hive's.
func metaToDocker(m types.Meta) swarm.Meta {
	return swarm.Meta{Version: swarm.Version{Index: m.Version}, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}
