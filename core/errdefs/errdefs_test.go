package errdefs

import (
	"errors"
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

func TestVersionConflictIsAConflictOfItsOwnKind(t *testing.T) {
	err := fmt.Errorf("%w: service web changed since it was read", ErrVersionConflict)
	if !errors.Is(err, ErrConflict) || !errors.Is(err, ErrVersionConflict) {
		t.Errorf("%v is not both a conflict and a version conflict", err)
	}
	if errors.Is(fmt.Errorf("%w: name taken", ErrConflict), ErrVersionConflict) {
		t.Error("a plain conflict counts as a version conflict")
	}
	if k := Kind(err); k != "version_conflict" || FromKind(k) != ErrVersionConflict {
		t.Errorf("Kind = %q, FromKind(%q) = %v", k, k, FromKind(k))
	}
	if got := Message(err); got != "service web changed since it was read" {
		t.Errorf("Message = %q", got)
	}
}
