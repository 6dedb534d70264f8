package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/stack"
	"github.com/hiveorch/hive/core/types"
)

func (c *cli) stackDeployCommand() *cobra.Command {
	var (
		files         []string
		prune, detach bool
		quiet         bool
		withAuth      bool
		resolveImage  string
	)
	cmd := &cobra.Command{
		Use:     "deploy [flags] -c FILE [-c FILE...] STACK",
		Aliases: []string{"up"},
		Short:   "Deploy a stack from compose files, or bring it up to date",
		Long: `Create or update the stack STACK from compose files, as docker stack deploy
does: its networks, secrets, configs and services, named STACK_NAME and
labelled com.docker.stack.namespace=STACK.

Before anything is created, the whole model is checked: every key, every
reference, depends_on cycles, the external networks, secrets and configs
(they must exist), the ports other services of the cluster publish, and
objects of the same name that are not the stack's. Every problem is listed
and nothing is created.

Then the missing networks are created, the missing secrets and configs; a
secret or config whose value changed is rotated in place (its services roll
to the new value; the managers compare a secret's value, which never comes
back to the client, and an equal one changes nothing). A missing service is created;
an existing one is compared with the file, after the same normalization the
cluster applies: an unchanged one is not touched (no task is replaced), a
changed one is updated and goes through its rolling update. --prune removes
the stack's services that the files no longer name.

Each service's image is pinned to the digest its tag points at on its
registry (--resolve-image always, as docker stack deploy), so that every
node runs the same image and a deploy after a push under the same tag rolls
the service out; changed resolves only new and changed images, never none.
An image no registry can tell (a locally built one) stays as written, with a
warning.

With --detach=false, each service's progress is followed, dependencies
first, until the stack converges or one service cannot.`,
		Example: `  hive stack deploy -c compose.yaml app
  hive stack deploy -c compose.yaml -c compose.prod.yaml --prune app
  hive stack deploy --detach=false -c compose.yaml app
  hive stack deploy --resolve-image never -c compose.yaml app`,
		Args: exactArgs(1, "a STACK name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(resolveModes, resolveImage) {
				return usageErrorf(cmd, "invalid --resolve-image %q: use always, changed or never", resolveImage)
			}
			m, err := c.loadStack(cmd, files)
			if err != nil {
				return err
			}
			objs, err := stack.Translate(m, args[0])
			if err != nil {
				return splitErrors(err)
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			d := &deployer{c: c, cl: cl, objs: objs, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
			if err := d.read(cmd.Context()); err != nil {
				return err
			}
			if err := d.check(); err != nil {
				return err
			}
			if withAuth {
				if err := d.readAuth(); err != nil {
					return err
				}
			}
			d.resolveImages(cmd.Context(), resolveImage)
			if err := d.apply(cmd.Context(), prune); err != nil {
				return err
			}
			if detach {
				return nil
			}
			return d.wait(cmd.Context(), quiet)
		},
	}
	addComposeFileFlag(cmd, &files)
	cmd.Flags().BoolVar(&prune, "prune", false, "remove the stack's services that the files no longer name")
	cmd.Flags().BoolVarP(&detach, "detach", "d", true, "return once the changes are stored; --detach=false follows every service until the stack converges")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print no progress (with --detach=false)")
	cmd.Flags().BoolVar(&withAuth, "with-registry-auth", false, withRegistryAuthUsage+", for every service of the stack")
	cmd.Flags().StringVar(&resolveImage, "resolve-image", resolveAlways, "pin each service's image to the digest its tag points at on its registry: always, changed (new and changed images only) or never")
	return cmd
}

// The --resolve-image modes, as docker stack deploy's.
const (
	resolveAlways  = "always"
	resolveChanged = "changed"
	resolveNever   = "never"
	// resolveTimeout bounds the registry's answer for one image.
	resolveTimeout = 10 * time.Second
)

var resolveModes = []string{resolveAlways, resolveChanged, resolveNever}

// resolveImages pins the services' images to the digests their tags point
// at on their registries, as docker stack deploy --resolve-image does, so
// that every node runs the same image and a re-deploy after a push under
// the same tag updates the service. Each image is asked once, all at
// once. With "changed", a service whose image is the one it runs keeps
// its pinned image. An image that cannot be resolved (no registry has it,
// the registry cannot be reached: a locally built image) stays as
// written, with a warning; a service that runs it pinned keeps its pin.
func (d *deployer) resolveImages(ctx context.Context, mode string) {
	if mode == resolveNever {
		return
	}
	running := func(spec types.ServiceSpec) string {
		if cur := d.services[spec.Name]; cur != nil {
			if img, _, _ := strings.Cut(cur.Spec.Task.Container.Image, "@"); img == spec.Task.Container.Image {
				return cur.Spec.Task.Container.Image
			}
		}
		return ""
	}
	keep := func(spec types.ServiceSpec) bool { return mode == resolveChanged && running(spec) != "" }
	var images []string
	auths := map[string]*types.RegistryAuth{} // by image
	for _, spec := range d.objs.Services {
		if !keep(spec) && !slices.Contains(images, spec.Task.Container.Image) {
			images = append(images, spec.Task.Container.Image)
			auths[spec.Task.Container.Image] = d.auths[spec.Name]
		}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		pins = map[string]string{}
		errs = map[string]error{}
	)
	for _, img := range images {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
			defer cancel()
			pinned, err := d.c.pinImage(rctx, img, auths[img])
			mu.Lock()
			defer mu.Unlock()
			pins[img], errs[img] = pinned, err
		})
	}
	wg.Wait()
	for _, img := range slices.Sorted(maps.Keys(errs)) {
		if errs[img] != nil {
			fmt.Fprintf(d.errOut, "Warning: image %s could not be resolved on its registry to record its digest: %v\n  each node uses the image it has or pulls, so nodes may run different versions of it\n", img, errs[img])
		}
	}
	for i := range d.objs.Services {
		spec := &d.objs.Services[i]
		if pinned := pins[spec.Task.Container.Image]; pinned != "" && !keep(*spec) {
			spec.Task.Container.Image = pinned
		} else if cur := running(*spec); cur != "" {
			spec.Task.Container.Image = cur
		}
	}
}

// deployer brings a stack's objects on the cluster up to date with objs.
type deployer struct {
	c      *cli
	cl     *client.Client
	objs   *stack.Objects
	out    io.Writer
	errOut io.Writer

	// What the cluster holds, by name.
	services map[string]*types.Service
	all      []types.Service
	networks map[string]*types.Network
	secrets  map[string]*types.Secret
	configs  map[string]*types.Config

	// deployed are the stack's services after apply, by name.
	deployed map[string]*types.Service
	// auths are the registry credentials sent with each service, by
	// name (--with-registry-auth).
	auths map[string]*types.RegistryAuth
}

// readAuth reads the registry credential of each service's image, before
// anything is created, for --with-registry-auth.
func (d *deployer) readAuth() error {
	d.auths = map[string]*types.RegistryAuth{}
	var errs []error
	for _, spec := range d.objs.Services {
		a, err := d.c.registryAuth(spec.Task.Container.Image)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", spec.Name, err))
			continue
		}
		d.auths[spec.Name] = a
	}
	return errors.Join(errs...)
}

func (d *deployer) read(ctx context.Context) error {
	sums, err := d.cl.ListServices(ctx)
	if err != nil {
		return err
	}
	d.services = map[string]*types.Service{}
	for _, s := range sums {
		d.services[s.Service.Spec.Name] = s.Service
		d.all = append(d.all, *s.Service)
	}
	nets, err := d.cl.ListNetworks(ctx)
	if err != nil {
		return err
	}
	d.networks = map[string]*types.Network{}
	for _, n := range nets {
		d.networks[n.Spec.Name] = n
	}
	secs, err := d.cl.ListSecrets(ctx)
	if err != nil {
		return err
	}
	d.secrets = map[string]*types.Secret{}
	for _, s := range secs {
		d.secrets[s.Spec.Name] = s
	}
	cfgs, err := d.cl.ListConfigs(ctx)
	if err != nil {
		return err
	}
	d.configs = map[string]*types.Config{}
	for _, s := range cfgs {
		d.configs[s.Spec.Name] = s
	}
	return nil
}

// check finds every problem that needs the cluster before anything is
// created: missing external objects, ports taken, objects of the stack's
// names that are not the stack's, a service's mode changed.
func (d *deployer) check() error {
	var errs []error
	st := d.objs.Stack
	for _, n := range d.objs.External.Networks {
		if d.networkByRef(n) == nil {
			errs = append(errs, fmt.Errorf("external network %s not found: create it with 'hive network create %s', or drop external: true so that the stack creates it", n, n))
		}
	}
	for _, n := range d.objs.External.Secrets {
		if d.secrets[n] == nil {
			errs = append(errs, fmt.Errorf("external secret %s not found: create it with 'hive secret create %s FILE', or give it a file: in the compose file", n, n))
		}
	}
	for _, n := range d.objs.External.Configs {
		if d.configs[n] == nil {
			errs = append(errs, fmt.Errorf("external config %s not found: create it with 'hive config create %s FILE', or give it a file: in the compose file", n, n))
		}
	}
	if err := stack.CheckPorts(d.objs, d.all); err != nil {
		errs = append(errs, splitList(err)...)
	}
	notOurs := func(kind, name string, labels map[string]string) {
		if !inStack(labels, st) {
			errs = append(errs, fmt.Errorf("%s %s already exists and is not part of stack %s (no label %s=%s): remove or rename it, or name the stack's %s otherwise",
				kind, name, st, stack.LabelNamespace, st, kind))
		}
	}
	for _, n := range d.objs.Networks {
		if cur := d.networks[n.Name]; cur != nil {
			notOurs("network", n.Name, cur.Spec.Labels)
		}
	}
	for _, s := range d.objs.Secrets {
		if cur := d.secrets[s.Spec.Name]; cur != nil {
			notOurs("secret", s.Spec.Name, cur.Spec.Labels)
		}
	}
	for _, s := range d.objs.Configs {
		if cur := d.configs[s.Spec.Name]; cur != nil {
			notOurs("config", s.Spec.Name, cur.Spec.Labels)
		}
	}
	for _, s := range d.objs.Services {
		cur := d.services[s.Name]
		if cur == nil {
			continue
		}
		notOurs("service", s.Name, cur.Spec.Labels)
		if cur.Spec.Mode != s.Mode {
			errs = append(errs, fmt.Errorf("service %s cannot change its mode from %s to %s: remove it first ('hive service rm %s'), then deploy again", s.Name, cur.Spec.Mode, s.Mode, s.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("nothing was created: %w", errorOf(errs))
	}
	return nil
}

// splitList returns the problems of an errors.Join.
func splitList(err error) []error {
	if m, ok := splitErrors(err).(multiError); ok {
		return m
	}
	return []error{err}
}

// networkByRef finds a network by name or ID.
func (d *deployer) networkByRef(ref string) *types.Network {
	if n := d.networks[ref]; n != nil {
		return n
	}
	for _, n := range d.networks {
		if n.ID == ref {
			return n
		}
	}
	return nil
}

// apply creates and updates the stack's objects, printing each step. A
// failure stops it: what was done stays, and the next deploy completes it.
func (d *deployer) apply(ctx context.Context, prune bool) error {
	for _, spec := range d.objs.Networks {
		if d.networks[spec.Name] != nil {
			continue
		}
		fmt.Fprintf(d.out, "Creating network %s\n", spec.Name)
		n, err := d.cl.CreateNetwork(ctx, spec)
		if err != nil {
			return fmt.Errorf("create network %s: %w", spec.Name, err)
		}
		d.networks[n.Spec.Name] = n
	}
	for _, s := range d.objs.Secrets {
		if cur := d.secrets[s.Spec.Name]; cur != nil {
			if cur.Spec.Driver != nil {
				// Its driver holds the value: an update would only
				// roll its services.
				continue
			}
			// The managers compare the value with the one held: an
			// equal one changes nothing, a new one rotates it.
			sec, err := d.cl.UpdateSecret(ctx, cur.ID, s.Value)
			if err != nil {
				return fmt.Errorf("update secret %s: %w", s.Spec.Name, err)
			}
			if sec.ValueVersion != cur.ValueVersion {
				fmt.Fprintf(d.out, "Updating secret %s (id: %s): its services roll to the new value\n", s.Spec.Name, cur.ID)
			}
			d.secrets[sec.Spec.Name] = sec
			continue
		}
		fmt.Fprintf(d.out, "Creating secret %s\n", s.Spec.Name)
		sec, err := d.cl.CreateSecret(ctx, s.Spec, s.Value)
		if err != nil {
			return fmt.Errorf("create secret %s: %w", s.Spec.Name, err)
		}
		d.secrets[sec.Spec.Name] = sec
	}
	for _, o := range d.objs.Configs {
		cur := d.configs[o.Spec.Name]
		switch {
		case cur == nil:
			fmt.Fprintf(d.out, "Creating config %s\n", o.Spec.Name)
			cfg, err := d.cl.CreateConfig(ctx, o.Spec, o.Data)
			if err != nil {
				return fmt.Errorf("create config %s: %w", o.Spec.Name, err)
			}
			d.configs[cfg.Spec.Name] = cfg
		case !bytes.Equal(cur.Data, o.Data):
			fmt.Fprintf(d.out, "Updating config %s (id: %s)\n", o.Spec.Name, cur.ID)
			cfg, err := d.cl.UpdateConfig(ctx, cur.ID, o.Data)
			if err != nil {
				return fmt.Errorf("update config %s: %w", o.Spec.Name, err)
			}
			d.configs[cfg.Spec.Name] = cfg
		}
	}
	d.deployed = map[string]*types.Service{}
	for _, spec := range d.objs.Services {
		// Read again: a config update just rolled the services using it.
		cur, err := d.cl.GetService(ctx, spec.Name)
		if err != nil && !isNotFound(err) {
			return err
		}
		auth := d.auths[spec.Name]
		if isNotFound(err) {
			fmt.Fprintf(d.out, "Creating service %s\n", spec.Name)
			spec := spec.Copy()
			spec.RegistryAuth = auth
			svc, err := d.cl.CreateService(ctx, spec)
			if err != nil {
				return fmt.Errorf("create service %s: %w", spec.Name, err)
			}
			d.deployed[spec.Name] = svc
			continue
		}
		same, err := d.sameSpec(spec, cur)
		if err != nil {
			return err
		}
		if same && auth == nil {
			fmt.Fprintf(d.out, "Service %s unchanged (id: %s)\n", spec.Name, cur.ID)
			d.deployed[spec.Name] = cur
			continue
		}
		if same {
			// Only the credential is sent: the managers store it if it
			// changed, and replace no task.
			fmt.Fprintf(d.out, "Service %s unchanged, registry credential sent (id: %s)\n", spec.Name, cur.ID)
		} else {
			fmt.Fprintf(d.out, "Updating service %s (id: %s)\n", spec.Name, cur.ID)
		}
		svc, err := updateWithRetry(ctx, d.cl, cur.ID, func(s *types.ServiceSpec) error {
			force := s.Task.ForceUpdate
			*s = spec.Copy()
			s.Task.ForceUpdate = force
			s.RegistryAuth = auth
			return nil
		})
		if err != nil {
			return err
		}
		d.deployed[spec.Name] = svc
	}
	if prune {
		for _, cur := range sortedServices(d.services) {
			if !inStack(cur.Spec.Labels, d.objs.Stack) || d.deployed[cur.Spec.Name] != nil {
				continue
			}
			fmt.Fprintf(d.out, "Removing service %s\n", cur.Spec.Name)
			if err := d.cl.RemoveService(ctx, cur.ID); err != nil && !isNotFound(err) {
				return fmt.Errorf("remove service %s: %w", cur.Spec.Name, err)
			}
		}
	}
	return nil
}

// sameSpec reports whether want, the file's spec, is what cur already
// runs: want's references are resolved to the IDs the cluster would give
// them, the ForceUpdate counter (bumped by secret and config rotations) is
// the stored one, and both are normalized as the cluster normalizes a spec.
func (d *deployer) sameSpec(want types.ServiceSpec, cur *types.Service) (bool, error) {
	w := want.Copy()
	w.Task.ForceUpdate = cur.Spec.Task.ForceUpdate
	w.Task.Container.PullSecret = cur.Spec.Task.Container.PullSecret // hive's, never the file's
	for i := range w.Networks {
		n := d.networkByRef(w.Networks[i].Target)
		if n == nil {
			return false, fmt.Errorf("service %s: network %s not found", w.Name, w.Networks[i].Target)
		}
		w.Networks[i].Target = n.ID
	}
	ct := &w.Task.Container
	for i := range ct.Secrets {
		if s := d.secrets[ct.Secrets[i].SecretName]; s != nil {
			ct.Secrets[i].SecretID = s.ID
		}
	}
	for i := range ct.Configs {
		if s := d.configs[ct.Configs[i].ConfigName]; s != nil {
			ct.Configs[i].ConfigID = s.ID
		}
	}
	w.Normalize()
	c := cur.Spec.Copy()
	c.Normalize()
	a, err := json.Marshal(w)
	if err != nil {
		return false, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	return bytes.Equal(a, b), nil
}

func sortedServices(m map[string]*types.Service) []*types.Service {
	out := make([]*types.Service, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out
}

func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }

// wait follows every service of the stack, dependencies first, until each
// converges; it stops at the first that cannot.
func (d *deployer) wait(ctx context.Context, quiet bool) error {
	for _, spec := range dependencyOrder(d.objs.Services) {
		svc := d.deployed[spec.Name]
		if svc == nil {
			continue
		}
		if !quiet {
			fmt.Fprintf(d.out, "Waiting for service %s\n", svc.Spec.Name)
		}
		o := waitOptions{verb: "deployed", quiet: quiet, out: d.out}
		var err error
		if st := svc.UpdateStatus; st != nil && st.SpecVersion == svc.SpecVersion && st.Active() {
			err = d.c.waitUpdated(ctx, d.cl, svc, o)
		} else {
			ignore, lerr := endedTasks(ctx, d.cl, svc.ID)
			if lerr != nil {
				return lerr
			}
			err = d.c.waitConverged(ctx, d.cl, svc, ignore, o)
		}
		if err != nil {
			return fmt.Errorf("stack %s did not converge: %w", d.objs.Stack, err)
		}
	}
	fmt.Fprintf(d.out, "Stack %s converged\n", d.objs.Stack)
	return nil
}

// dependencyOrder sorts services so that each comes after those it
// depends on (the stack has no cycle: Validate refuses one).
func dependencyOrder(specs []types.ServiceSpec) []types.ServiceSpec {
	byName := map[string]types.ServiceSpec{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	done := map[string]bool{}
	var out []types.ServiceSpec
	var visit func(s types.ServiceSpec)
	visit = func(s types.ServiceSpec) {
		if done[s.Name] {
			return
		}
		done[s.Name] = true
		for _, dep := range s.DependsOn {
			if ds, ok := byName[dep.Service]; ok {
				visit(ds)
			}
		}
		out = append(out, s)
	}
	for _, s := range specs {
		visit(s)
	}
	return out
}
