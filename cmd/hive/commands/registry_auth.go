package commands

import (
	"fmt"
	"path/filepath"

	"github.com/distribution/reference"
	dockerconfig "github.com/docker/cli/cli/config"

	"github.com/hiveorch/hive/core/types"
)

// dockerHubServer is the key the docker CLI stores Docker Hub's
// credential under.
const dockerHubServer = "https://index.docker.io/v1/"

// withRegistryAuthUsage is the help of every --with-registry-auth flag.
const withRegistryAuthUsage = "send the registry credential 'docker login' stored for the image's registry to the managers, which seal it and hand it only to the nodes that pull the image"

// registryAuth reads the credential 'docker login' stored for image's
// registry, from the docker CLI's configuration ($DOCKER_CONFIG, else
// ~/.docker) and its credential helpers, for --with-registry-auth.
func (c *cli) registryAuth(image string) (*types.RegistryAuth, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil, fmt.Errorf("--with-registry-auth: image %q: %v", image, err)
	}
	server := reference.Domain(named)
	key, login := server, " "+server
	if server == "docker.io" {
		key, login = dockerHubServer, ""
	}
	dir := c.getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := c.home()
		if err != nil {
			return nil, fmt.Errorf("--with-registry-auth: find the docker CLI's configuration: %w; set DOCKER_CONFIG", err)
		}
		dir = filepath.Join(home, ".docker")
	}
	cfg, err := dockerconfig.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("--with-registry-auth: read the docker CLI's configuration in %s: %w", dir, err)
	}
	ac, err := cfg.GetAuthConfig(key)
	if err != nil {
		return nil, fmt.Errorf("--with-registry-auth: read the credential for %s: %w", server, err)
	}
	if ac.Username == "" && ac.IdentityToken == "" {
		return nil, fmt.Errorf("--with-registry-auth: no credential for %s in %s: log in first (docker login%s), or leave the flag out to pull anonymously", server, filepath.Join(dir, "config.json"), login)
	}
	a := &types.RegistryAuth{ServerAddress: key, Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("--with-registry-auth: %w", err)
	}
	return a, nil
}
