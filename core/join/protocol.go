package join

import (
	"errors"

	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// Request is what a joining node sends, as one JSON object.
type Request struct {
	Token string `json:"token"`
	// PublicKeyPEM is the node's public key ("PUBLIC KEY" PEM); its private
	// key never leaves the node.
	PublicKeyPEM string `json:"public_key_pem"`
	Hostname     string `json:"hostname"`
	// Addr is the address other nodes reach the joining node's cluster
	// port at (its advertise address), host:port.
	Addr string `json:"addr"`
	// Role is the role asked for; "" takes the one the token grants. A
	// manager token may join a worker; a worker token may not join a
	// manager.
	Role types.NodeRole `json:"role"`
}

// Response is a manager's one JSON answer: the node's identity, or Error
// and Kind.
type Response struct {
	NodeID    string         `json:"node_id,omitempty"`
	Role      types.NodeRole `json:"role,omitempty"`
	CertPEM   string         `json:"cert_pem,omitempty"`
	CACertPEM string         `json:"ca_cert_pem,omitempty"`
	// CAKeyPEM is sent to managers only.
	CAKeyPEM string `json:"ca_key_pem,omitempty"`
	// DataKey is the cluster's data-encryption key, which seals secrets;
	// sent to managers only, over this mutually verified TLS connection.
	DataKey []byte `json:"data_key,omitempty"`
	// Managers are the cluster ports of the managers, for the node's
	// session.
	Managers []string `json:"managers,omitempty"`

	Error string `json:"error,omitempty"`
	// Kind is one of the Kind* refusals, or an errdefs kind name
	// ("invalid_argument", "unavailable", ...).
	Kind string `json:"kind,omitempty"`
}

// Kinds of refusal specific to joining, as a Response's Kind.
const (
	// KindMalformedToken: the token is not a join token.
	KindMalformedToken = "malformed_token"
	// KindWrongCluster: the token names another cluster's CA.
	KindWrongCluster = "wrong_cluster"
	// KindRotatedToken: the token was valid once and has been rotated.
	KindRotatedToken = "rotated_token"
	// KindInvalidToken: the token's secret matches no token of the
	// cluster.
	KindInvalidToken = "invalid_token"
	// KindWrongRole: a worker token used to join a manager.
	KindWrongRole = "wrong_role"
)

// Sentinels of the join refusals, for errors.Is.
var (
	ErrMalformedToken = errors.New("malformed join token")
	ErrWrongCluster   = errors.New("join token of another cluster")
	ErrRotatedToken   = errors.New("rotated join token")
	ErrInvalidToken   = errors.New("invalid join token")
	ErrWrongRole      = errors.New("join token for another role")
)

// Error is a refusal to join, on either side. Its text says what was
// wrong and what to do; it unwraps to the refusal's sentinel (for the
// join kinds) and to an errdefs kind.
type Error struct {
	Kind string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the sentinels the error matches.
func (e *Error) Unwrap() []error {
	var out []error
	switch e.Kind {
	case KindMalformedToken:
		out = append(out, ErrMalformedToken, errdefs.ErrInvalidArgument)
	case KindWrongCluster:
		out = append(out, ErrWrongCluster, errdefs.ErrInvalidArgument)
	case KindRotatedToken:
		out = append(out, ErrRotatedToken, errdefs.ErrPermissionDenied)
	case KindInvalidToken:
		out = append(out, ErrInvalidToken, errdefs.ErrPermissionDenied)
	case KindWrongRole:
		out = append(out, ErrWrongRole, errdefs.ErrPermissionDenied)
	default:
		if k := errdefs.FromKind(e.Kind); k != nil {
			out = append(out, k)
		}
	}
	return out
}

func refusal(kind, msg string) *Error { return &Error{Kind: kind, Msg: msg} }

// kindOf returns the Response kind of an error.
func kindOf(err error) string {
	var je *Error
	if errors.As(err, &je) && je.Kind != "" {
		return je.Kind
	}
	return errdefs.Kind(err)
}
