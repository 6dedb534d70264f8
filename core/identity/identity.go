// Package identity makes the IDs of hive's objects: 25 random lowercase
// letters and digits, as Swarm's look ("pydkv5ffwfqiv1aua1ylmwhum"), so
// that a 12-character prefix is unique in practice.
package identity

import (
	"crypto/rand"
	"math/big"
)

// IDLength is the length of an ID.
const IDLength = 25

// NewID returns a new random ID.
func NewID() string {
	// 25 base-36 digits hold ~129 bits; take them from one big random number.
	max := new(big.Int).Exp(big.NewInt(36), big.NewInt(IDLength), nil)
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	s := n.Text(36)
	for len(s) < IDLength {
		s = "0" + s
	}
	return s
}
