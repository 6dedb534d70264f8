package types

import "time"

// Meta is the bookkeeping every stored object carries.
//
// Version is the Raft index of the last change to the object. An update
// must carry the version it read; the store rejects it when the object has
// changed since (optimistic concurrency), so a controller never overwrites a
// change it did not see.
type Meta struct {
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}
