// Package join is how a host becomes a node of a cluster: join tokens and
// the join protocol.
//
// A join token reads HIVE-1-<ca-digest>-<secret>. The digest is the
// SHA-256 of the cluster's root CA certificate, so a joining node, which
// trusts nothing yet, can tell the real cluster from an impostor. The
// secret (25 characters of [a-z0-9]) proves the holder was given the
// token: it is an HMAC, keyed by the CA private key, of the token's role
// and generation. No secret is stored anywhere: a manager, which holds the
// CA key, derives the current secrets from the generations kept in the
// cluster record (types.Cluster.JoinTokens), and rotating a token bumps its
// generation, which makes the old token worthless.
//
// The protocol runs over the cluster port's join protocol
// (transport.ProtoJoin), the only one that admits clients without a
// certificate:
//
//  1. The joining node parses the token (a malformed token goes nowhere),
//     generates its key (ECDSA P-256) and dials a manager. During the TLS
//     handshake, before it sends a byte, it checks that the chain the
//     manager presents ends in a CA certificate whose digest is the
//     token's and that the manager's certificate is signed by it.
//  2. It sends one JSON Request: token, public key, hostname, advertise
//     address and the role it asks for ("" for whatever the token grants).
//  3. The manager (Server) checks the token against the current
//     generations, registers the node through its Admit function (which
//     creates the node record and, for a manager, adds a Raft voter),
//     signs a certificate for the node's key and answers one JSON
//     Response: node ID, role, certificate, CA certificate, the CA key
//     (managers only) and the managers' addresses. A refusal is
//     {"error", "kind"} and says what was wrong and what to do.
//  4. The joining node checks the answer and writes its certificate
//     directory with Save, in the layout ca.Load reads.
//
// Certificates are renewed over the node RPCs once two thirds of their
// validity have passed (ca.RenewAt): a manager answers with Renew, which
// keeps the node ID and takes the role from the cluster state, and the
// node installs the answer with Renewal.Apply.
package join
