package errdefs

import (
	"fmt"
	"testing"
)

func TestMessageDropsTheKindPrefixOnly(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("%w: service %q not found", ErrNotFound, "web"): `service "web" not found`,
		fmt.Errorf("create: %w", ErrConflict):                      "create: conflict",
		fmt.Errorf("plain"):                                        "plain",
	} {
		if got := Message(err); got != want {
			t.Errorf("Message(%q) = %q, want %q", err, got, want)
		}
		if Kind(err) != Kind(fmt.Errorf("%w", err)) {
			t.Errorf("kind changed")
		}
	}
}
