package identity

import "testing"

func TestSeededGeneratorsBuiltAlikeMakeTheSameIDs(t *testing.T) {
	a, b, other := Seeded(1, "replicated"), Seeded(1, "replicated"), Seeded(1, "global")
	for range 3 {
		x, y, z := a.NewID(), b.NewID(), other.NewID()
		if x != y || x == z || len(x) != IDLength {
			t.Fatalf("seeded IDs %q, %q (same seed and stream) and %q (another stream)", x, y, z)
		}
	}
	if x, y := Random.NewID(), Random.NewID(); x == y || len(x) != IDLength {
		t.Fatalf("random IDs %q and %q", x, y)
	}
}
