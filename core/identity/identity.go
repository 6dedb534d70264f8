// Package identity makes the IDs of hive's objects: 25 lowercase letters
// and digits, as Swarm's look ("pydkv5ffwfqiv1aua1ylmwhum"), so that a
// 12-character prefix is unique in practice.
//
// Whoever mints IDs takes a Generator: the daemon's is Random; the
// simulator and tests use Seeded, whose IDs follow from a seed, so that
// the same run makes the same IDs and, through the tie-breaks that compare
// IDs, the same decisions.
package identity

import (
	"crypto/rand"
	"encoding/binary"
	"hash/fnv"
	"math/big"
	mrand "math/rand/v2"
	"sync"
)

// IDLength is the length of an ID.
const IDLength = 25

// Generator makes IDs. NewID is safe for concurrent use.
type Generator interface {
	NewID() string
}

// Random makes random IDs (NewID); it is the daemon's generator.
var Random Generator = random{}

type random struct{}

func (random) NewID() string { return NewID() }

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

// Seeded returns a generator whose IDs are a function of seed, stream and
// how many IDs it made before: two generators built alike make the same
// IDs in the same order. Give each minting goroutine its own stream (a
// controller's name), so that the IDs one draws do not depend on how the
// goroutines interleave.
func Seeded(seed uint64, stream string) Generator {
	h := fnv.New64a()
	h.Write([]byte(stream))
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], h.Sum64())
	return &seeded{rng: mrand.New(mrand.NewChaCha8(key))}
}

type seeded struct {
	mu  sync.Mutex
	rng *mrand.Rand
}

func (g *seeded) NewID() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	g.mu.Lock()
	defer g.mu.Unlock()
	b := make([]byte, IDLength)
	for i := range b {
		b[i] = digits[g.rng.IntN(len(digits))]
	}
	return string(b)
}
