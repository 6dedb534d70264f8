package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"google.golang.org/grpc"

	"github.com/hiveorch/hive/core/ca"
	"github.com/hiveorch/hive/core/clock"
	"github.com/hiveorch/hive/core/dispatcher"
	"github.com/hiveorch/hive/core/join"
	"github.com/hiveorch/hive/core/mesh"
	"github.com/hiveorch/hive/core/rpc"
	"github.com/hiveorch/hive/core/transport"
	"github.com/hiveorch/hive/core/types"
)

// serveGRPC serves the node RPCs until ctx is done.
func serveGRPC(ctx context.Context, srv *grpc.Server, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		srv.Stop()
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

func resolveTCP(addr string) (*net.TCPAddr, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("advertise address %s: %w", addr, err)
	}
	return a, nil
}

// startMesh runs the routing mesh: published ports bound on this node,
// with the routing table the leader's dispatcher sends, reaching tasks on
// other nodes through their cluster port; and the receiving end of that
// forwarding, which only ever connects to a task running on this node.
func (d *daemon) startMesh() {
	log := d.logger.With("component", "mesh")
	d.forwarder = mesh.NewForwarder(mesh.ForwarderConfig{NodeID: d.state.NodeID, TLS: d.id.ClientTLS(), Clock: d.clock})
	d.mesh = mesh.New(mesh.Config{BindAddr: d.bindAddr(), Dialer: d.forwarder.Dial, Logger: log, Clock: d.clock})
	d.run("mesh", func(ctx context.Context) error { return mesh.RunRoutes(ctx, d.mesh, d.session.WatchRoutes(ctx)) })
	fwdLn := d.mux.Listener(transport.ProtoMesh, false)
	// The receiving end only ever connects to a task that runs here and is
	// meant to (a task being stopped has left the table already).
	d.run("mesh-forward", func(ctx context.Context) error {
		return mesh.ServeForward(ctx, fwdLn, d.mesh.Lookup(d.state.NodeID), log)
	})
}

// rememberManagers keeps the managers' addresses in the node's state, so
// that after a restart its session starts where the managers are now.
func (d *daemon) rememberManagers(ctx context.Context) error {
	for ms := range d.session.WatchManagers(ctx) {
		addrs := managerList(ms)
		if len(addrs) == 0 || slices.Equal(addrs, d.state.Managers) {
			continue
		}
		d.state.Managers = addrs
		if err := writeState(d.cfg.DataDir, d.state); err != nil {
			d.logger.Warn("cannot record the managers' addresses", "error", err)
		}
	}
	return nil
}

func managerList(ms []dispatcher.ManagerInfo) []string {
	var out []string
	for _, m := range ms {
		if m.Addr != "" {
			out = append(out, m.Addr)
		}
	}
	slices.Sort(out)
	return out
}

// renewal renews the node's certificate when two thirds of its life have
// passed, and at once when the cluster gives the node another role
// (promotion or demotion): then it returns errRoleChanged, so the node
// restarts in the new role.
func (d *daemon) renewal(ctx context.Context) error {
	roles := d.session.WatchRole(ctx)
	backoff := time.Second
	for {
		wait := max(ca.RenewAt(d.id.Cert().Leaf).Sub(d.clock.Now()), 0)
		select {
		case <-ctx.Done():
			return nil
		case role, ok := <-roles:
			if !ok {
				return nil
			}
			if role == "" || role == d.role {
				continue
			}
			d.logger.Info("the cluster changed this node's role; renewing its certificate", "from", d.role, "to", role)
		case <-d.clock.After(wait):
		}
		newRole, err := d.renew(ctx)
		if err != nil {
			d.logger.Warn("certificate renewal failed; retrying", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-d.clock.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		if newRole != d.role {
			return fmt.Errorf("%w: %s to %s", errRoleChanged, d.role, newRole)
		}
	}
}

// renew asks a manager for a certificate for this node's key and installs
// it, returning the role it carries.
func (d *daemon) renew(ctx context.Context) (types.NodeRole, error) {
	addrs := managerList(d.session.Managers())
	if leader := d.session.Leader(); leader != "" {
		addrs = append([]string{leader}, addrs...)
	}
	if len(addrs) == 0 {
		addrs = d.state.Managers
	}
	pub, err := ca.MarshalPublicKey(&d.id.Cert().Key().PublicKey)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, addr := range addrs {
		cc, err := d.pool.Conn(addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cctx, cancel := clock.WithTimeout(ctx, d.clock, 10*time.Second)
		r, err := rpc.NewManagerClient(cc).RenewCert(cctx, pub)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := (&join.Renewal{Role: r.Role, CertPEM: r.CertPEM, CAKeyPEM: r.CAKeyPEM}).Apply(CertDir(d.cfg.DataDir), d.id); err != nil {
			return "", fmt.Errorf("install the renewed certificate: %w", err)
		}
		if err := d.keysAfterRenewal(r.Role, r.DataKey); err != nil {
			return "", err
		}
		d.logger.Info("node certificate renewed", "role", r.Role, "expires", d.id.Cert().Leaf.NotAfter)
		return r.Role, nil
	}
	return "", fmt.Errorf("renew the node certificate: no manager answered: %w", errors.Join(errs...))
}
