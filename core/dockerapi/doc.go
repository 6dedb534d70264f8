// Package dockerapi serves the Docker Engine API's swarm-mode part in
// front of hive's control API, so that the docker CLI (docker service,
// node, secret, config, network, stack) and other Docker clients drive a
// hive cluster unchanged. Requests and responses are the moby API types
// (github.com/moby/moby/api/types/...), translated to and from hive's;
// what hive lacks is refused with a 400 that names the field, never
// dropped silently. docs/docker-api.md lists what is served.
package dockerapi
