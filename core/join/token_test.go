package join

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func newRoot(t *testing.T) *ca.Root {
	t.Helper()
	root, err := ca.NewRoot(epoch)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var tokenRE = regexp.MustCompile(`^HIVE-1-[0-9a-f]{64}-[0-9a-z]{25}$`)

func TestTokensHaveTheDocumentedFormatAndNameTheCA(t *testing.T) {
	root := newRoot(t)
	worker, manager, err := Tokens(root, types.JoinTokens{Worker: 3, Manager: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{worker, manager} {
		if !tokenRE.MatchString(tok) {
			t.Errorf("token %q does not match %s", tok, tokenRE)
		}
		if !strings.Contains(tok, "-"+root.Digest()+"-") {
			t.Errorf("token %q does not carry the CA digest %s", tok, root.Digest())
		}
		parsed, err := ParseToken(tok)
		if err != nil || parsed.reveal() != tok {
			t.Errorf("ParseToken(%q) = %v, %v", tok, parsed.reveal(), err)
		}
	}
	if worker == manager {
		t.Error("the worker and manager tokens are the same")
	}
	again, _, _ := Tokens(root, types.JoinTokens{Worker: 3, Manager: 7})
	if again != worker {
		t.Error("the same generation gave two different tokens: secrets must be derived, not random")
	}
	next, _, _ := Tokens(root, types.JoinTokens{Worker: 4, Manager: 7})
	if next == worker {
		t.Error("a new generation kept the same token")
	}
	other, _, _ := Tokens(newRoot(t), types.JoinTokens{Worker: 3, Manager: 7})
	if other[len(other)-secretLen:] == worker[len(worker)-secretLen:] {
		t.Error("two clusters derived the same secret")
	}
}

func TestTokensNeedTheCAKey(t *testing.T) {
	root := newRoot(t)
	public := &ca.Root{Cert: root.Cert, PEM: root.PEM}
	if _, err := NewToken(public, types.RoleWorker, 0); err == nil || !strings.Contains(err.Error(), "holds no CA key") {
		t.Errorf("NewToken without the CA key: %v", err)
	}
}

func TestParseTokenSaysWhatIsWrong(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	secret := strings.Repeat("a1", 12) + "z"
	tests := []struct {
		name, token, want string
	}{
		{"empty", "", "the join token is empty"},
		{"other prefix", "SWMTKN-1-" + digest + "-" + secret, "it does not start with HIVE-"},
		{"future version", "HIVE-2-" + digest + "-" + secret, "join token version 2 is not known to this hive"},
		{"no version", "HIVE-x-" + digest + "-" + secret, "HIVE- is not followed by a version number"},
		{"missing secret", "HIVE-1-" + digest, "it has 3 dash-separated parts, want 4"},
		{"extra part", "HIVE-1-" + digest + "-" + secret + "-x", "it has 5 dash-separated parts, want 4"},
		{"short digest", "HIVE-1-abc-" + secret, "its CA digest must be 64 lowercase hex digits, it has 3 characters"},
		{"digest not hex", "HIVE-1-" + strings.Repeat("zz", 32) + "-" + secret, "that are not all hex digits"},
		{"upper-case digest", "HIVE-1-" + strings.ToUpper(digest) + "-" + secret, "64 lowercase hex digits"},
		{"short secret", "HIVE-1-" + digest + "-abc", "its secret must be 25 lowercase letters and digits, it has 3 characters"},
		{"secret with symbols", "HIVE-1-" + digest + "-" + strings.Repeat("!", 25), "its secret must be 25 lowercase letters and digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseToken(tt.token)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseToken: %v, want an error containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrMalformedToken) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %v is not ErrMalformedToken and invalid_argument", err)
			}
			if strings.Contains(err.Error(), "a1a1a1") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
	if _, err := ParseToken("  HIVE-1-" + digest + "-" + secret + "\n"); err != nil {
		t.Errorf("surrounding spaces: %v", err)
	}
}

func TestCheckTellsCurrentRotatedAndForeignTokensApart(t *testing.T) {
	root := newRoot(t)
	gens := types.JoinTokens{Worker: 2, Manager: 5}
	tok := func(role types.NodeRole, gen uint64) Token {
		s, err := NewToken(root, role, gen)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseToken(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	foreignText, _ := NewToken(newRoot(t), types.RoleWorker, 2)
	foreign, _ := ParseToken(foreignText)
	forged := tok(types.RoleWorker, 2)
	forged.Secret = Secret(strings.Repeat("0", secretLen))

	tests := []struct {
		name     string
		token    Token
		role     types.NodeRole
		sentinel error
		msg      string
	}{
		{"current worker", tok(types.RoleWorker, 2), types.RoleWorker, nil, ""},
		{"current manager", tok(types.RoleManager, 5), types.RoleManager, nil, ""},
		{"rotated worker", tok(types.RoleWorker, 1), "", ErrRotatedToken, "this join token was rotated: get the current one with 'hive join-token worker' on a manager"},
		{"first manager token", tok(types.RoleManager, 0), "", ErrRotatedToken, "'hive join-token manager'"},
		{"future generation", tok(types.RoleWorker, 3), "", ErrInvalidToken, "is not valid for this cluster"},
		{"forged secret", forged, "", ErrInvalidToken, "get the current one with 'hive join-token worker'"},
		{"another cluster", foreign, "", ErrWrongCluster, "this join token is for another cluster (its CA digest is " + foreign.Digest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role, err := Check(root, gens, tt.token)
			if tt.sentinel == nil {
				if err != nil || role != tt.role {
					t.Fatalf("Check = %q, %v; want %q", role, err, tt.role)
				}
				return
			}
			if !errors.Is(err, tt.sentinel) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Check: %v; want %v containing %q", err, tt.sentinel, tt.msg)
			}
		})
	}
}

func TestTokenSecretIsRedactedWhenPrinted(t *testing.T) {
	root := newRoot(t)
	text, _ := NewToken(root, types.RoleWorker, 0)
	tok, _ := ParseToken(text)
	secret := text[len(text)-secretLen:]
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("join", "token", tok, "secret", tok.Secret)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %s", tok.Secret, tok.Secret), logs.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("the secret shows in %q", s)
		}
	}
	if !strings.Contains(tok.String(), root.Digest()) {
		t.Errorf("String() = %q lost the digest", tok.String())
	}
}
