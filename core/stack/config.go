package stack

import (
	"fmt"
	"maps"
)

// Config returns the merged, interpolated model as YAML, for `hive stack
// config`. A secret or config taken from an environment variable shows
// the variable's name, never its value (compose-go's form), env_file is
// listed but not read, and the names of networks, volumes, secrets and
// configs are those the files give (hive names the others STACK_KEY when
// it deploys them).
func Config(m *Model) ([]byte, error) {
	p := *m.Project
	p.Name = ""
	p.Networks = maps.Clone(p.Networks)
	for k, v := range p.Networks {
		if !bool(v.External) && !m.named("networks", k) {
			v.Name = ""
			p.Networks[k] = v
		}
	}
	p.Volumes = maps.Clone(p.Volumes)
	for k, v := range p.Volumes {
		if !bool(v.External) && !m.named("volumes", k) {
			v.Name = ""
			p.Volumes[k] = v
		}
	}
	p.Secrets = maps.Clone(p.Secrets)
	for k, v := range p.Secrets {
		if !bool(v.External) && !m.named("secrets", k) {
			v.Name = ""
			p.Secrets[k] = v
		}
	}
	p.Configs = maps.Clone(p.Configs)
	for k, v := range p.Configs {
		if !bool(v.External) && !m.named("configs", k) {
			v.Name = ""
			p.Configs[k] = v
		}
	}
	b, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("write the compose model: %w", err)
	}
	return b, nil
}

// named reports whether a file names the top-level object key of kind.
func (m *Model) named(kind, key string) bool {
	return m.src.sets(path(kind, key, "name")) || m.src.sets(path(kind, key, "external", "name"))
}
