package rpc

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/core/types"
)

// The Manager service.
const (
	managerService     = "hive.Manager"
	methodPropose      = "/" + managerService + "/Propose"
	methodAddVoter     = "/" + managerService + "/AddVoter"
	methodRemoveServer = "/" + managerService + "/RemoveServer"
	methodStatus       = "/" + managerService + "/Status"
	methodRenewCert    = "/" + managerService + "/RenewCert"
)

// ManagerBackend serves the Manager service's store calls; *store.Store
// implements it.
type ManagerBackend interface {
	// ApplyCommand applies a store command a follower forwarded (see
	// store.Config.Forward); leader only.
	ApplyCommand(ctx context.Context, cmd []byte) (uint64, error)
	AddVoter(ctx context.Context, id, addr string) error
	RemoveServer(ctx context.Context, id string) error
	Status() store.Status
}

var _ ManagerBackend = (*store.Store)(nil)

// RenewFunc issues a certificate for the public key (PEM) of the node that
// called, whose verified identity is peer (core/join's Renew does the
// checks and the signing). nil makes RenewCert fail.
type RenewFunc func(ctx context.Context, peer ca.Peer, pubPEM []byte) (*Renewal, error)

// Renewal is a renewed certificate: in the role the cluster gives the node
// now, with the CA key when that role is manager (as core/join's Renewal,
// which the node installs).
type Renewal struct {
	Role     types.NodeRole `json:"role"`
	CertPEM  []byte         `json:"cert_pem"`
	CAKeyPEM []byte         `json:"ca_key_pem,omitempty"`
	// DataKey is the cluster's data-encryption key, with the CA key.
	DataKey []byte `json:"data_key,omitempty"`
}

// ProposeRequest carries an encoded store command.
type ProposeRequest struct {
	Command json.RawMessage `json:"command"`
}

// ProposeResponse is the index the command committed at.
type ProposeResponse struct {
	Index uint64 `json:"index"`
}

// AddVoterRequest names the manager to add and its cluster port.
type AddVoterRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// RemoveServerRequest names the manager to remove.
type RemoveServerRequest struct {
	ID string `json:"id"`
}

// RenewCertRequest carries the caller's new public key, PEM-encoded.
type RenewCertRequest struct {
	PublicKey []byte `json:"public_key"`
}

type managerServer struct {
	b     ManagerBackend
	renew RenewFunc
}

var managerDesc = serviceDesc(managerService,
	[]grpc.MethodDesc{
		unary(managerService, "Propose", func(s *managerServer, ctx context.Context, req *ProposeRequest) (*ProposeResponse, error) {
			index, err := s.b.ApplyCommand(ctx, req.Command)
			if err != nil {
				return nil, err
			}
			return &ProposeResponse{Index: index}, nil
		}),
		unary(managerService, "AddVoter", func(s *managerServer, ctx context.Context, req *AddVoterRequest) (*Empty, error) {
			return &Empty{}, s.b.AddVoter(ctx, req.ID, req.Addr)
		}),
		unary(managerService, "RemoveServer", func(s *managerServer, ctx context.Context, req *RemoveServerRequest) (*Empty, error) {
			return &Empty{}, s.b.RemoveServer(ctx, req.ID)
		}),
		unary(managerService, "Status", func(s *managerServer, _ context.Context, _ *Empty) (*store.Status, error) {
			st := s.b.Status()
			return &st, nil
		}),
		unary(managerService, "RenewCert", func(s *managerServer, ctx context.Context, req *RenewCertRequest) (*Renewal, error) {
			if s.renew == nil {
				return nil, status.Error(codes.FailedPrecondition, "this manager cannot issue certificates; renew with another manager")
			}
			caller, ok := PeerFrom(ctx)
			if !ok {
				return nil, fmt.Errorf("renew certificate: the caller has no cluster certificate: %w", errdefs.ErrPermissionDenied)
			}
			// The renew func decides the role from the cluster's record of
			// the node, not from the caller's certificate: a promoted worker
			// gets a manager certificate, with the CA key, this way.
			r, err := s.renew(ctx, caller, req.PublicKey)
			if err != nil {
				return nil, err
			}
			if (r.CAKeyPEM != nil || r.DataKey != nil) && r.Role != types.RoleManager {
				return nil, fmt.Errorf("renew certificate: refusing to send the CA key with a %s certificate to %s: %w",
					r.Role, caller.ID, errdefs.ErrPermissionDenied)
			}
			return r, nil
		}),
	}, nil)

// RegisterManager serves the Manager service on srv, with b for the store
// calls and renew for RenewCert.
func RegisterManager(srv *grpc.Server, b ManagerBackend, renew RenewFunc) {
	srv.RegisterService(managerDesc, &managerServer{b: b, renew: renew})
}

// ManagerClient calls a manager's Manager service.
type ManagerClient struct {
	cc grpc.ClientConnInterface
}

// NewManagerClient returns a client over cc (from Dial or a Pool).
func NewManagerClient(cc grpc.ClientConnInterface) *ManagerClient {
	return &ManagerClient{cc: cc}
}

// Propose has the manager, which must be the leader, apply an encoded
// store command; it returns the index the command committed at.
func (c *ManagerClient) Propose(ctx context.Context, cmd []byte) (uint64, error) {
	resp, err := invoke[ProposeResponse](ctx, c.cc, methodPropose, &ProposeRequest{Command: cmd})
	if err != nil {
		return 0, err
	}
	return resp.Index, nil
}

// AddVoter makes the manager id at addr a Raft voter; leader only.
func (c *ManagerClient) AddVoter(ctx context.Context, id, addr string) error {
	_, err := invoke[Empty](ctx, c.cc, methodAddVoter, &AddVoterRequest{ID: id, Addr: addr})
	return err
}

// RemoveServer removes the manager id from the Raft group; leader only.
func (c *ManagerClient) RemoveServer(ctx context.Context, id string) error {
	_, err := invoke[Empty](ctx, c.cc, methodRemoveServer, &RemoveServerRequest{ID: id})
	return err
}

// Status returns the manager's view of the Raft group.
func (c *ManagerClient) Status(ctx context.Context) (store.Status, error) {
	resp, err := invoke[store.Status](ctx, c.cc, methodStatus, &Empty{})
	if err != nil {
		return store.Status{}, err
	}
	return *resp, nil
}

// RenewCert asks for a new certificate for the caller's node, for the
// public key pubPEM (PEM).
func (c *ManagerClient) RenewCert(ctx context.Context, pubPEM []byte) (*Renewal, error) {
	return invoke[Renewal](ctx, c.cc, methodRenewCert, &RenewCertRequest{PublicKey: pubPEM})
}

// ForwardTo returns a store.Config.Forward that proposes commands to the
// leader through pool; leader returns what the store knows of the leader
// (store.Leader). For a follower manager's store:
//
//	var st *store.Store
//	cfg.Forward = rpc.ForwardTo(pool, func() (string, string) { return st.Leader() })
func ForwardTo(pool *Pool, leader func() (id, addr string)) func(ctx context.Context, cmd []byte) (uint64, error) {
	return func(ctx context.Context, cmd []byte) (uint64, error) {
		id, addr := leader()
		if addr == "" {
			return 0, fmt.Errorf("forward to the leader: no leader is known: %w", errdefs.ErrUnavailable)
		}
		cc, err := pool.Conn(addr)
		if err != nil {
			return 0, fmt.Errorf("forward to the leader %s: %w", id, err)
		}
		return NewManagerClient(cc).Propose(ctx, cmd)
	}
}
