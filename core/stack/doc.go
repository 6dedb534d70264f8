// Package stack turns compose files into hive objects, as `docker stack
// deploy` turns them into Swarm's: Load reads and merges the files
// (compose-go does the merging, .env and interpolation, extends) and
// screens every key against what hive does with it (keys.go, and
// docs/stacks.md for people); Validate checks the model as a whole,
// reporting every problem at once; Translate returns the networks,
// secrets, configs and service specs to create, named STACK_NAME and
// labelled com.docker.stack.namespace=STACK; Config writes the merged
// model back as YAML.
//
// The package is pure: it asks no cluster and stores nothing. It reads
// the compose files and the files they name (.env, env_file, the files
// of secrets and configs). The caller (the CLI's stack commands) checks
// what needs the cluster (CheckPorts, the external objects) and sends
// the objects, networks, secrets and configs before the services.
//
// A secret's value travels as a types.SecretValue, which redacts itself;
// no error or warning of this package holds a value.
package stack
