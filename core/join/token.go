package join

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/types"
)

// Token format: HIVE-1-<64 hex digits>-<25 characters of [a-z0-9]>.
const (
	tokenPrefix  = "HIVE-"
	tokenVersion = "1"
	digestLen    = 64
	secretLen    = 25
)

// rotatedLookback is how many past generations of each role a manager
// recognises as rotated (rather than simply invalid) tokens.
const rotatedLookback = 1000

// secretModulus is 36^25: the secret is an HMAC reduced to 25 base-36
// digits, about 129 bits.
var secretModulus = new(big.Int).Exp(big.NewInt(36), big.NewInt(secretLen), nil)

// Secret is the secret part of a join token. It prints as <redacted>, so
// a token never reaches a log or an error by accident.
type Secret string

func (Secret) String() string { return "<redacted>" }

// LogValue redacts the secret in structured logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("<redacted>") }

// Token is a parsed join token.
type Token struct {
	// Digest is the SHA-256 of the cluster's root CA certificate, in hex.
	Digest string
	Secret Secret
}

// String prints the token with its secret redacted.
func (t Token) String() string {
	return tokenPrefix + tokenVersion + "-" + t.Digest + "-" + t.Secret.String()
}

// reveal returns the token's full text.
func (t Token) reveal() string {
	return tokenPrefix + tokenVersion + "-" + t.Digest + "-" + string(t.Secret)
}

const tokenShape = "a join token looks like HIVE-1-<64 hex digits>-<25 letters and digits>"

// ParseToken parses a join token. Its errors (ErrMalformedToken) say what
// is wrong with the text, never repeating the secret.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	again := ": copy it again from the output of 'hive join-token worker' (or manager) on a manager"
	if s == "" {
		return Token{}, refusal(KindMalformedToken, "the join token is empty: pass --token; "+tokenShape)
	}
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return Token{}, refusal(KindMalformedToken, "malformed join token: it does not start with HIVE- ("+tokenShape+")"+again)
	}
	parts := strings.Split(rest, "-")
	if parts[0] != tokenVersion {
		if _, err := strconv.Atoi(parts[0]); err == nil {
			return Token{}, refusal(KindMalformedToken, fmt.Sprintf("join token version %s is not known to this hive, which reads version %s: upgrade hive on this host", parts[0], tokenVersion))
		}
		return Token{}, refusal(KindMalformedToken, "malformed join token: HIVE- is not followed by a version number ("+tokenShape+")"+again)
	}
	if len(parts) != 3 {
		return Token{}, refusal(KindMalformedToken, fmt.Sprintf("malformed join token: it has %d dash-separated parts, want 4 (%s)%s", len(parts)+1, tokenShape, again))
	}
	digest, secret := parts[1], parts[2]
	if len(digest) != digestLen || !isLowerHex(digest) {
		return Token{}, refusal(KindMalformedToken, fmt.Sprintf("malformed join token: its CA digest must be %d lowercase hex digits, it has %d characters%s", digestLen, len(digest), hexNote(digest)+again))
	}
	if len(secret) != secretLen || !isBase36(secret) {
		return Token{}, refusal(KindMalformedToken, fmt.Sprintf("malformed join token: its secret must be %d lowercase letters and digits, it has %d characters%s", secretLen, len(secret), again))
	}
	return Token{Digest: digest, Secret: Secret(secret)}, nil
}

func hexNote(s string) string {
	if len(s) == digestLen {
		return " that are not all hex digits"
	}
	return ""
}

func isLowerHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

func isBase36(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}

// NewToken returns the join token of role at generation gen. root must
// hold the CA key.
func NewToken(root *ca.Root, role types.NodeRole, gen uint64) (string, error) {
	secret, err := deriveSecret(root, role, gen)
	if err != nil {
		return "", err
	}
	return Token{Digest: root.Digest(), Secret: Secret(secret)}.reveal(), nil
}

// Tokens returns the current worker and manager tokens.
func Tokens(root *ca.Root, gens types.JoinTokens) (worker, manager string, err error) {
	if worker, err = NewToken(root, types.RoleWorker, gens.Worker); err != nil {
		return "", "", err
	}
	if manager, err = NewToken(root, types.RoleManager, gens.Manager); err != nil {
		return "", "", err
	}
	return worker, manager, nil
}

// deriveSecret is the secret of role's token at generation gen:
// HMAC-SHA256, keyed by the SHA-256 of the CA key, of the role and the
// generation, as 25 base-36 digits.
func deriveSecret(root *ca.Root, role types.NodeRole, gen uint64) (string, error) {
	if root.Key == nil {
		return "", errors.New("join token: this node holds no CA key: ask a manager")
	}
	if role != types.RoleWorker && role != types.RoleManager {
		return "", fmt.Errorf("join token: unknown role %q: want worker or manager", role)
	}
	der, err := x509.MarshalECPrivateKey(root.Key)
	if err != nil {
		return "", fmt.Errorf("join token: encode CA key: %w", err)
	}
	key := sha256.Sum256(der)
	mac := hmac.New(sha256.New, key[:])
	fmt.Fprintf(mac, "hive-join-token/%s\x00%s\x00%d", tokenVersion, role, gen)
	n := new(big.Int).SetBytes(mac.Sum(nil))
	s := n.Mod(n, secretModulus).Text(36)
	return strings.Repeat("0", secretLen-len(s)) + s, nil
}

// Check verifies a token against the cluster: root, which must hold the
// CA key, and the current generations. It returns the role the token
// grants, or an error of kind KindWrongCluster, KindRotatedToken or
// KindInvalidToken.
func Check(root *ca.Root, gens types.JoinTokens, t Token) (types.NodeRole, error) {
	if t.Digest != root.Digest() {
		return "", refusal(KindWrongCluster, fmt.Sprintf("this join token is for another cluster (its CA digest is %s, this manager's is %s): check the address or the token", t.Digest, root.Digest()))
	}
	current := []struct {
		role types.NodeRole
		gen  uint64
	}{{types.RoleWorker, gens.Worker}, {types.RoleManager, gens.Manager}}
	for _, c := range current {
		ok, err := secretIs(root, c.role, c.gen, t.Secret)
		if err != nil {
			return "", err
		}
		if ok {
			return c.role, nil
		}
	}
	for _, c := range current {
		for back := uint64(1); back <= rotatedLookback && back <= c.gen; back++ {
			ok, err := secretIs(root, c.role, c.gen-back, t.Secret)
			if err != nil {
				return "", err
			}
			if ok {
				return "", refusal(KindRotatedToken, fmt.Sprintf("this join token was rotated: get the current one with 'hive join-token %s' on a manager", c.role))
			}
		}
	}
	return "", refusal(KindInvalidToken, "this join token is not valid for this cluster (its secret matches no worker or manager token): get the current one with 'hive join-token worker' on a manager")
}

func secretIs(root *ca.Root, role types.NodeRole, gen uint64, s Secret) (bool, error) {
	want, err := deriveSecret(root, role, gen)
	if err != nil {
		return false, err
	}
	return hmac.Equal([]byte(want), []byte(s)), nil
}
