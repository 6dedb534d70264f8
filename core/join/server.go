package join

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// maxMessage bounds a request or a response.
const maxMessage = 64 << 10

// requestTimeout bounds one join, from accepting the connection to the
// answer; admitting a manager waits for a Raft configuration change.
const requestTimeout = 30 * time.Second

// AdmitFunc registers a joining node and returns its node ID and the
// cluster ports of the managers. For a manager it also adds the node as a
// Raft voter. Its error is shown to the joining operator: it should say
// what was wrong and what to do, and wrap an errdefs kind. It may be called
// concurrently.
type AdmitFunc func(ctx context.Context, role types.NodeRole, hostname, addr string) (nodeID string, managers []string, err error)

// Config configures a Server.
type Config struct {
	// Root is the cluster's CA, with its key.
	Root *ca.Root
	// Cluster reads the cluster record: the join token generations and the
	// certificate expiry. It returns nil while the record does not exist.
	Cluster func(ctx context.Context) (*types.Cluster, error)
	// Admit registers an accepted node.
	Admit AdmitFunc
	// DataKey returns the cluster's data-encryption key, which a joining
	// manager receives with the CA key; nil (or a nil result) sends none.
	DataKey func() []byte
	// Clock stamps certificates; nil means the real clock.
	Clock clock.Clock
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server is the managers' side of the join protocol.
type Server struct {
	cfg Config
}

// NewServer returns a Server. It fails when cfg.Root holds no CA key:
// only managers accept joins.
func NewServer(cfg Config) (*Server, error) {
	switch {
	case cfg.Root == nil || cfg.Root.Key == nil:
		return nil, errors.New("join server: this node holds no CA key; only managers accept joins")
	case cfg.Cluster == nil || cfg.Admit == nil:
		return nil, errors.New("join server: Cluster and Admit are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg}, nil
}

// Serve answers joins on l, the cluster port's join listener
// (mux.Listener(transport.ProtoJoin, true)), until ctx is done; it then
// closes l, waits for the joins in progress and returns nil. It returns
// the error that stopped l otherwise.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("join server: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
		}()
	}
}

// serveConn reads one request and writes one response.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	ctx, cancel := clock.WithTimeout(ctx, s.cfg.Clock, requestTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	remote := c.RemoteAddr().String()

	var req Request
	var resp Response
	if err := json.NewDecoder(io.LimitReader(c, maxMessage)).Decode(&req); err != nil {
		s.cfg.Logger.Debug("join: unreadable request", "remote", remote, "error", err)
		resp = Response{Error: "invalid join request: " + err.Error(), Kind: errdefs.Kind(errdefs.ErrInvalidArgument)}
	} else {
		var err error
		resp, err = s.handle(ctx, req)
		if err != nil {
			s.cfg.Logger.Info("join refused", "remote", remote, "hostname", req.Hostname, "role", string(req.Role), "reason", kindOf(err), "error", err)
			resp = Response{Error: err.Error(), Kind: kindOf(err)}
		} else {
			s.cfg.Logger.Info("node joined", "node_id", resp.NodeID, "role", string(resp.Role), "hostname", req.Hostname, "addr", req.Addr, "remote", remote)
		}
	}
	if err := json.NewEncoder(c).Encode(resp); err != nil {
		s.cfg.Logger.Warn("join: could not send the answer", "remote", remote, "node_id", resp.NodeID, "error", err)
	}
}

// handle checks a request, admits the node and issues its certificate.
func (s *Server) handle(ctx context.Context, req Request) (Response, error) {
	root := s.cfg.Root
	tok, err := ParseToken(req.Token)
	if err != nil {
		return Response{}, err
	}
	if tok.Digest != root.Digest() {
		return Response{}, refusal(KindWrongCluster, fmt.Sprintf("this join token is for another cluster (its CA digest is %s, this manager's is %s): check the address or the token", tok.Digest, root.Digest()))
	}
	cluster, err := s.cfg.Cluster(ctx)
	if err != nil {
		return Response{}, fmt.Errorf("%w: read the cluster state: %w; retry in a moment", errdefs.ErrUnavailable, err)
	}
	if cluster == nil {
		return Response{}, fmt.Errorf("%w: the cluster is still starting up: retry in a moment", errdefs.ErrUnavailable)
	}
	granted, err := Check(root, cluster.JoinTokens, tok)
	if err != nil {
		return Response{}, err
	}
	role := req.Role
	switch role {
	case "":
		role = granted
	case types.RoleWorker:
	case types.RoleManager:
		if granted != types.RoleManager {
			return Response{}, refusal(KindWrongRole, "this is a worker join token; a manager join needs 'hive join-token manager'")
		}
	default:
		return Response{}, fmt.Errorf("%w: unknown role %q: want worker or manager", errdefs.ErrInvalidArgument, req.Role)
	}
	pub, err := ca.ParsePublicKey([]byte(req.PublicKeyPEM))
	if err != nil {
		return Response{}, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	if err := checkHostname(req.Hostname); err != nil {
		return Response{}, err
	}
	if err := checkAddr(req.Addr); err != nil {
		return Response{}, err
	}
	ou, _ := ca.OU(role)
	var caKey, dataKey []byte
	if role == types.RoleManager {
		if caKey, err = root.KeyPEM(); err != nil {
			return Response{}, fmt.Errorf("join: %w", err)
		}
		if s.cfg.DataKey != nil {
			dataKey = s.cfg.DataKey()
		}
	}

	nodeID, managers, err := s.cfg.Admit(ctx, role, req.Hostname, req.Addr)
	if err != nil {
		return Response{}, err
	}
	expiry := cluster.CertExpiry.D()
	if expiry <= 0 {
		expiry = ca.DefaultCertExpiry
	}
	cert, err := root.Issue(pub, nodeID, ou, s.cfg.Clock.Now(), expiry)
	if err != nil {
		return Response{}, fmt.Errorf("join: %w", err)
	}
	return Response{
		NodeID: nodeID, Role: role, CertPEM: string(cert), CACertPEM: string(root.PEM),
		CAKeyPEM: string(caKey), DataKey: dataKey, Managers: managers,
	}, nil
}

func checkHostname(h string) error {
	if h == "" || len(h) > 253 || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: invalid hostname %q: want a host name of 1 to 253 printable characters without spaces", errdefs.ErrInvalidArgument, h)
	}
	return nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("%w: invalid advertise address %q: want host:port, the address other nodes reach this node's cluster port at (--advertise-addr)", errdefs.ErrInvalidArgument, a)
	}
	return nil
}
