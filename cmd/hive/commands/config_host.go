package commands

import "github.com/hiveorch/hive/config"

// configHost returns the API endpoint from hive's configuration: the
// file named by --config (or found the usual way) and HIVE_* variables.
func configHost(file string, env []string) (string, error) {
	cfg, err := config.Load(config.LoadOptions{File: file, Env: env})
	if err != nil {
		return "", err
	}
	return cfg.Host, nil
}
