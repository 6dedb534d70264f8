package stack

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/tree"
	composetypes "github.com/compose-spec/compose-go/v2/types"

	"github.com/hiveorch/hive/core/types"
)

// stackNameRE is the shape of a stack's name: its objects are named
// STACK_NAME, and a service's name allows letters, digits, '-' and '_'.
var stackNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)

// Translate turns a loaded model into the hive objects of stack: every
// object named STACK_NAME (as Swarm names them) unless the file gives it
// a name, and labelled com.docker.stack.namespace=STACK. It validates the
// whole model first (see Validate) and fails with every problem found;
// the objects it returns are what to create.
//
// It reads the files the model names: env_file, and the file of each
// secret and config.
func Translate(m *Model, stack string) (*Objects, error) {
	objs, errs := build(m, stack)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}

// translator builds a stack's objects, collecting every error.
type translator struct {
	m     *Model
	p     *composetypes.Project
	stack string
	errs  []error
	// used are the top-level networks and volumes the services use.
	usedNetworks map[string]bool
	volumes      map[string]Volume
}

// build translates the model and validates the result; it returns the
// objects (when there is no error) and every error.
func build(m *Model, stack string) (*Objects, []error) {
	t := &translator{m: m, p: m.Project, stack: stack, usedNetworks: map[string]bool{}, volumes: map[string]Volume{}}
	if !stackNameRE.MatchString(stack) {
		return nil, []error{fmt.Errorf("invalid stack name %q: use letters, digits, '-' and '_', starting with a letter or digit", stack)}
	}
	objs := &Objects{Stack: stack}
	for _, name := range slices.Sorted(maps.Keys(t.p.Services)) {
		objs.Services = append(objs.Services, t.service(name, t.p.Services[name]))
	}
	t.networks(objs)
	t.secrets(objs)
	t.configs(objs)
	for _, name := range slices.Sorted(maps.Keys(t.volumes)) {
		objs.Volumes = append(objs.Volumes, t.volumes[name])
	}
	t.checkStack(objs)
	if len(t.errs) > 0 {
		return nil, t.errs
	}
	return objs, nil
}

// path builds a key's path from its parts (names may hold dots).
func path(parts ...string) tree.Path {
	var p tree.Path
	for _, s := range parts {
		p = p.Next(s)
	}
	return p
}

// fail records an error about the key at p.
func (t *translator) fail(p tree.Path, format string, args ...any) {
	e := &KeyError{Location: t.m.src.locate(p), Key: displayPath(p), Reason: fmt.Sprintf(format, args...)}
	if parts := p.Parts(); len(parts) > 1 && parts[0] == "services" {
		e.Service = parts[1]
	}
	t.errs = append(t.errs, e)
}

// failEach records each of the errors err joins (hive's own validation)
// as an error about the key at p.
func (t *translator) failEach(p tree.Path, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			t.failEach(p, e)
		}
		return
	}
	t.fail(p, "%v", err)
}

// scoped is the hive name of a top-level object key: its own name when
// it is external or the file names it, else STACK_KEY.
func (t *translator) scoped(kind, key, name string, external bool) string {
	if external || t.m.named(kind, key) {
		return name
	}
	return t.stack + "_" + key
}

// stackLabels returns labels with the stack's namespace label added.
func (t *translator) stackLabels(labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[LabelNamespace] = t.stack
	return out
}

// networkName is the hive name of the top-level network key.
func (t *translator) networkName(key string) string {
	n := t.p.Networks[key]
	return t.scoped("networks", key, n.Name, bool(n.External))
}

// networks adds the networks the services use: to create, or external.
func (t *translator) networks(objs *Objects) {
	for _, key := range slices.Sorted(maps.Keys(t.usedNetworks)) {
		n := t.p.Networks[key]
		name := t.networkName(key)
		p := path("networks", key)
		if n.External {
			objs.External.Networks = append(objs.External.Networks, name)
			continue
		}
		spec := types.NetworkSpec{
			Name:       name,
			Driver:     n.Driver,
			Attachable: n.Attachable,
			Internal:   n.Internal,
			Labels:     t.stackLabels(n.Labels),
			Options:    maps.Clone(map[string]string(n.DriverOpts)),
		}
		switch len(n.Ipam.Config) {
		case 0:
		case 1:
			c := n.Ipam.Config[0]
			spec.Subnet, spec.Gateway, spec.IPRange = c.Subnet, c.Gateway, c.IPRange
		default:
			t.fail(path("networks", key, "ipam", "config"), "a hive network has one subnet, this one lists %d: keep one", len(n.Ipam.Config))
		}
		spec.Normalize()
		t.failEach(p, spec.Validate())
		objs.Networks = append(objs.Networks, spec)
	}
	slices.SortFunc(objs.Networks, func(a, b types.NetworkSpec) int { return cmp.Compare(a.Name, b.Name) })
	slices.Sort(objs.External.Networks)
}

// fileObject is what secrets and configs share.
type fileObject struct {
	kind, key string
	cfg       composetypes.FileObjectConfig
}

// value reads a secret's or config's value from its file, environment
// variable or (configs) content; ok is false when the error is recorded.
func (t *translator) value(o fileObject) ([]byte, bool) {
	p := path(o.kind, o.key)
	c := o.cfg
	// compose-go copies an environment variable's value into Content: it
	// is the environment that was given.
	given := []string{}
	for _, x := range []struct{ key, v string }{{"file", c.File}, {"environment", c.Environment}, {"content", c.Content}} {
		if x.v != "" && (x.key != "content" || c.Environment == "") {
			given = append(given, x.key)
		}
	}
	switch {
	case len(given) == 0:
		what := "file or environment"
		if o.kind == "configs" {
			what = "file, environment or content"
		}
		t.fail(p, "it has no value: give %s, or external: true for an existing %s", what, o.kind[:len(o.kind)-1])
		return nil, false
	case len(given) > 1:
		t.fail(p, "it gives %s: give one of them", strings.Join(given, " and "))
		return nil, false
	case c.File != "":
		b, err := os.ReadFile(c.File)
		if err != nil {
			t.fail(path(o.kind, o.key, "file"), "cannot read it: %v", err)
			return nil, false
		}
		return b, true
	case c.Environment != "":
		v, ok := t.p.Environment[c.Environment]
		if !ok || v == "" {
			t.fail(path(o.kind, o.key, "environment"), "variable %s is not set or empty: set it in the environment or in the .env file", c.Environment)
			return nil, false
		}
		return []byte(v), true
	}
	return []byte(c.Content), true
}

// secrets adds every secret the file defines: to create, or external.
func (t *translator) secrets(objs *Objects) {
	for _, key := range slices.Sorted(maps.Keys(t.p.Secrets)) {
		c := composetypes.FileObjectConfig(t.p.Secrets[key])
		name := t.scoped("secrets", key, c.Name, bool(c.External))
		p := path("secrets", key)
		if c.External {
			objs.External.Secrets = append(objs.External.Secrets, name)
			continue
		}
		s := SecretObject{Spec: types.SecretSpec{Name: name, Labels: t.stackLabels(c.Labels)}}
		if c.Driver != "" {
			s.Spec.Driver = &types.Driver{Name: c.Driver, Options: maps.Clone(c.DriverOpts)}
			if c.File != "" || c.Environment != "" {
				t.fail(p, "a secret with a driver takes no value (driver %s holds it): leave out file and environment", c.Driver)
			}
		} else {
			b, ok := t.value(fileObject{"secrets", key, c})
			if !ok {
				continue
			}
			s.Value = types.NewSecretValue(b)
			t.failEach(p, types.ValidateSecretValue(name, s.Value))
		}
		if len(c.DriverOpts) > 0 && c.Driver == "" {
			t.fail(path("secrets", key, "driver_opts"), "driver options need a driver: give driver too, or remove them")
		}
		t.failEach(p, s.Spec.Validate())
		objs.Secrets = append(objs.Secrets, s)
	}
	slices.SortFunc(objs.Secrets, func(a, b SecretObject) int { return cmp.Compare(a.Spec.Name, b.Spec.Name) })
	slices.Sort(objs.External.Secrets)
}

// configs adds every config the file defines: to create, or external.
func (t *translator) configs(objs *Objects) {
	for _, key := range slices.Sorted(maps.Keys(t.p.Configs)) {
		c := composetypes.FileObjectConfig(t.p.Configs[key])
		name := t.scoped("configs", key, c.Name, bool(c.External))
		p := path("configs", key)
		if c.External {
			objs.External.Configs = append(objs.External.Configs, name)
			continue
		}
		b, ok := t.value(fileObject{"configs", key, c})
		if !ok {
			continue
		}
		cfg := ConfigObject{Spec: types.ConfigSpec{Name: name, Labels: t.stackLabels(c.Labels)}, Data: b}
		t.failEach(p, types.ValidateConfigData(name, b))
		t.failEach(p, cfg.Spec.Validate())
		objs.Configs = append(objs.Configs, cfg)
	}
	slices.SortFunc(objs.Configs, func(a, b ConfigObject) int { return cmp.Compare(a.Spec.Name, b.Spec.Name) })
	slices.Sort(objs.External.Configs)
}

// volume records the top-level volume key a service mounts and returns
// its hive name; ok is false when it is not defined.
func (t *translator) volume(p tree.Path, key string) (string, bool) {
	v, ok := t.p.Volumes[key]
	if !ok {
		t.fail(p, "volume %s is not defined: add it under the top-level volumes: key", key)
		return "", false
	}
	if v.Driver != "" && v.Driver != "local" {
		t.fail(path("volumes", key, "driver"), "driver %q: hive's tasks mount their runtime's local volumes; remove the driver", v.Driver)
	}
	name := t.scoped("volumes", key, v.Name, bool(v.External))
	t.volumes[name] = Volume{Name: name, External: bool(v.External)}
	return name, true
}
