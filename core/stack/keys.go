package stack

import (
	"strings"

	"github.com/compose-spec/compose-go/v2/tree"
)

// handling is what hive does with a compose key.
type handling int

const (
	// translated: the key becomes part of a hive object (Translate says
	// how; some values it still refuses, saying why).
	translated handling = iota
	// ignored: docker stack deploy ignores the key with a warning, and so
	// does hive (Load returns a Warning).
	ignored
	// refused: hive cannot do what the key asks; Load fails naming it.
	refused
)

// keyRule is one compose key (a compose-go tree.Path pattern: * for any
// name, [] for a list item) and what hive does with it. note says, for an
// ignored or refused key, why and what to do instead.
type keyRule struct {
	path string
	how  handling
	note string
}

// Notes shared by several keys.
const (
	noteUseDeploy    = "set resources with deploy.resources (limits, reservations: cpus, memory)"
	noteNoJobs       = "hive runs long-running services only; it has no jobs"
	noteNoRuntimeOpt = "hive's container spec has no such setting; remove the key"
	noteNetworks     = "hive attaches tasks to overlay networks only, with aliases; remove the key"
)

// keyRules is every key hive knows what to do with; a key of the Compose
// Specification that is not here is refused with a generic message. The
// translated keys are the allowlist compose-go screens the loaded model
// against (loader.WithSupportedAttributes), so a key the specification
// gains later is refused until hive decides what to do with it.
// docs/stacks.md is the table for people; TestDocsListEveryKey keeps the
// two in step.
var keyRules = []keyRule{
	// top level
	{path: "services", how: translated},
	{path: "services.*", how: translated},
	{path: "networks", how: translated},
	{path: "networks.*", how: translated},
	{path: "volumes", how: translated},
	{path: "volumes.*", how: translated},
	{path: "secrets", how: translated},
	{path: "secrets.*", how: translated},
	{path: "configs", how: translated},
	{path: "configs.*", how: translated},
	{path: "name", how: ignored, note: "the stack's name is the one given to hive stack deploy"},
	{path: "include", how: refused, note: "docker stack deploy cannot include files either; pass each file with -c instead"},
	{path: "jobs", how: refused, note: noteNoJobs},
	{path: "models", how: refused, note: "hive cannot run AI models; remove the key"},

	// services.*: the container
	{path: "services.*.image", how: translated},
	{path: "services.*.command", how: translated},
	{path: "services.*.entrypoint", how: translated},
	{path: "services.*.environment", how: translated},
	{path: "services.*.environment.*", how: translated},
	{path: "services.*.env_file", how: translated},
	{path: "services.*.env_file.[].path", how: translated},
	{path: "services.*.env_file.[].required", how: translated},
	{path: "services.*.env_file.[].format", how: translated},
	{path: "services.*.labels", how: translated},
	{path: "services.*.labels.*", how: translated},
	{path: "services.*.label_file", how: translated},
	{path: "services.*.user", how: translated},
	{path: "services.*.working_dir", how: translated},
	{path: "services.*.hostname", how: translated},
	{path: "services.*.stop_signal", how: translated},
	{path: "services.*.stop_grace_period", how: translated},
	{path: "services.*.healthcheck", how: translated},
	{path: "services.*.healthcheck.test", how: translated},
	{path: "services.*.healthcheck.interval", how: translated},
	{path: "services.*.healthcheck.timeout", how: translated},
	{path: "services.*.healthcheck.retries", how: translated},
	{path: "services.*.healthcheck.start_period", how: translated},
	{path: "services.*.healthcheck.disable", how: translated},
	{path: "services.*.healthcheck.start_interval", how: refused, note: "hive's health checks have no start interval; remove the key (start_period is supported)"},
	{path: "services.*.ports", how: translated},
	{path: "services.*.ports.[].target", how: translated},
	{path: "services.*.ports.[].published", how: translated},
	{path: "services.*.ports.[].protocol", how: translated},
	{path: "services.*.ports.[].mode", how: translated},
	{path: "services.*.ports.[].host_ip", how: refused, note: "every node listens on a published port, on all its addresses; remove the host IP"},
	{path: "services.*.ports.[].name", how: refused, note: "hive's ports have no names; remove the key"},
	{path: "services.*.ports.[].app_protocol", how: refused, note: "hive's ports have no application protocol; remove the key"},
	{path: "services.*.volumes", how: translated},
	{path: "services.*.volumes.[].type", how: translated},
	{path: "services.*.volumes.[].source", how: translated},
	{path: "services.*.volumes.[].target", how: translated},
	{path: "services.*.volumes.[].read_only", how: translated},
	{path: "services.*.volumes.[].bind", how: translated},
	{path: "services.*.volumes.[].bind.create_host_path", how: translated},
	{path: "services.*.volumes.[].volume", how: translated},
	{path: "services.*.volumes.[].tmpfs", how: translated},
	{path: "services.*.volumes.[].bind.propagation", how: refused, note: "hive's mounts have no bind propagation; remove the key"},
	{path: "services.*.volumes.[].bind.selinux", how: refused, note: "hive's mounts have no SELinux relabelling; remove the key"},
	{path: "services.*.volumes.[].bind.recursive", how: refused, note: "hive's bind mounts are recursive, with no option; remove the key"},
	{path: "services.*.volumes.[].volume.nocopy", how: refused, note: "hive's volume mounts have no nocopy option; remove the key"},
	{path: "services.*.volumes.[].volume.subpath", how: refused, note: "hive's volume mounts cannot mount a subpath; mount the volume and point the program at the subdirectory"},
	{path: "services.*.volumes.[].volume.labels", how: refused, note: "hive's volume mounts carry no labels; remove the key"},
	{path: "services.*.volumes.[].tmpfs.size", how: refused, note: "hive's tmpfs mounts have no size option; remove the key"},
	{path: "services.*.volumes.[].tmpfs.mode", how: refused, note: "hive's tmpfs mounts have no mode option; remove the key"},
	{path: "services.*.volumes.[].consistency", how: refused, note: "hive's mounts have no consistency option; remove the key"},
	{path: "services.*.volumes.[].image", how: refused, note: "hive cannot mount an image; remove the volume"},
	{path: "services.*.tmpfs", how: translated},
	{path: "services.*.secrets", how: translated},
	{path: "services.*.secrets.[].source", how: translated},
	{path: "services.*.secrets.[].target", how: translated},
	{path: "services.*.secrets.[].uid", how: translated},
	{path: "services.*.secrets.[].gid", how: translated},
	{path: "services.*.secrets.[].mode", how: translated},
	{path: "services.*.configs", how: translated},
	{path: "services.*.configs.[].source", how: translated},
	{path: "services.*.configs.[].target", how: translated},
	{path: "services.*.configs.[].uid", how: translated},
	{path: "services.*.configs.[].gid", how: translated},
	{path: "services.*.configs.[].mode", how: translated},
	{path: "services.*.networks", how: translated},
	{path: "services.*.networks.*", how: translated},
	{path: "services.*.networks.*.aliases", how: translated},
	{path: "services.*.networks.*.ipv4_address", how: refused, note: "hive allocates task addresses itself; remove the key"},
	{path: "services.*.networks.*.ipv6_address", how: refused, note: "hive's networks are IPv4 only and allocate addresses themselves; remove the key"},
	{path: "services.*.networks.*.link_local_ips", how: refused, note: noteNetworks},
	{path: "services.*.networks.*.mac_address", how: refused, note: noteNetworks},
	{path: "services.*.networks.*.driver_opts", how: refused, note: noteNetworks},
	{path: "services.*.networks.*.priority", how: refused, note: noteNetworks},
	{path: "services.*.networks.*.gw_priority", how: refused, note: noteNetworks},
	{path: "services.*.networks.*.interface_name", how: refused, note: noteNetworks},
	{path: "services.*.networks.*.use_service_name_alias", how: refused, note: noteNetworks},
	{path: "services.*.depends_on", how: translated},
	{path: "services.*.depends_on.*", how: translated},
	{path: "services.*.depends_on.*.condition", how: translated},
	{path: "services.*.depends_on.*.required", how: translated},
	{path: "services.*.depends_on.*.restart", how: translated},
	{path: "services.*.extends", how: translated},
	{path: "services.*.extends.file", how: translated},
	{path: "services.*.extends.service", how: translated},

	// services.*: ignored by docker stack deploy, with a warning
	{path: "services.*.build", how: ignored, note: "hive does not build images: build and push it, and give image"},
	{path: "services.*.cgroup", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.cgroup_parent", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.container_name", how: ignored, note: "a service's containers are named after its tasks"},
	{path: "services.*.devices", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.domainname", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.expose", how: ignored, note: "services on a network reach each other on every port"},
	{path: "services.*.external_links", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.ipc", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.links", how: ignored, note: "services on a network reach each other by name"},
	{path: "services.*.mac_address", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.network_mode", how: ignored, note: "docker stack deploy ignores it; use networks"},
	{path: "services.*.pid", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.privileged", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.restart", how: ignored, note: "use deploy.restart_policy"},
	{path: "services.*.security_opt", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.shm_size", how: ignored, note: "docker stack deploy ignores it"},
	{path: "services.*.userns_mode", how: ignored, note: "docker stack deploy ignores it"},

	// services.*: refused
	{path: "services.*.profiles", how: refused, note: "a stack deploys every service, and docker stack deploy refuses profiles too; remove profiles, or leave the service out of the file"},
	{path: "services.*.scale", how: refused, note: "use deploy.replicas"},
	{path: "services.*.volumes_from", how: refused, note: "define a top-level volume and mount it in each service that shares it"},
	{path: "services.*.cpu_count", how: refused, note: noteUseDeploy},
	{path: "services.*.cpu_percent", how: refused, note: noteUseDeploy},
	{path: "services.*.cpu_period", how: refused, note: noteUseDeploy},
	{path: "services.*.cpu_quota", how: refused, note: noteUseDeploy},
	{path: "services.*.cpu_rt_period", how: refused, note: noteUseDeploy},
	{path: "services.*.cpu_rt_runtime", how: refused, note: noteUseDeploy},
	{path: "services.*.cpu_shares", how: refused, note: noteUseDeploy},
	{path: "services.*.cpus", how: refused, note: noteUseDeploy},
	{path: "services.*.cpuset", how: refused, note: noteUseDeploy},
	{path: "services.*.mem_limit", how: refused, note: noteUseDeploy},
	{path: "services.*.mem_reservation", how: refused, note: noteUseDeploy},
	{path: "services.*.memswap_limit", how: refused, note: noteUseDeploy},
	{path: "services.*.mem_swappiness", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.cap_add", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.cap_drop", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.dns", how: refused, note: "a task's resolver is hive's (127.0.0.11), forwarding to the node's; remove the key"},
	{path: "services.*.dns_opt", how: refused, note: "a task's resolver is hive's (127.0.0.11), forwarding to the node's; remove the key"},
	{path: "services.*.dns_search", how: refused, note: "a task's resolver is hive's (127.0.0.11), forwarding to the node's; remove the key"},
	{path: "services.*.extra_hosts", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.init", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.read_only", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.sysctls", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.ulimits", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.tty", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.stdin_open", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.group_add", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.isolation", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.logging", how: refused, note: "a task's logs are its runtime's (hive service logs reads them); remove the key"},
	{path: "services.*.credential_spec", how: refused, note: noteNoRuntimeOpt},
	{path: "services.*.pull_policy", how: refused, note: "hive's runtimes pull an image that is missing on the node; remove the key"},
	{path: "services.*.platform", how: refused, note: "use a placement constraint such as node.platform.arch==x86_64 (if the scheduler knows it) or an image for the nodes' platform"},
	{path: "services.*.runtime", how: refused, note: "the node's runtime plugin runs every task; remove the key"},
	{path: "services.*.develop", how: refused, note: "compose watch is docker compose's; remove the key"},
	{path: "services.*.post_start", how: refused, note: "hive has no lifecycle hooks; remove the key"},
	{path: "services.*.pre_start", how: refused, note: "hive has no lifecycle hooks; remove the key"},
	{path: "services.*.pre_stop", how: refused, note: "hive has no lifecycle hooks; remove the key"},
	{path: "services.*.provider", how: refused, note: "hive runs containers only; remove the service"},
	{path: "services.*.gpus", how: refused, note: "hive does not schedule GPUs; remove the key"},
	{path: "services.*.models", how: refused, note: "hive cannot run AI models; remove the key"},

	// services.*.deploy
	{path: "services.*.deploy", how: translated},
	{path: "services.*.deploy.mode", how: translated},
	{path: "services.*.deploy.replicas", how: translated},
	{path: "services.*.deploy.labels", how: translated},
	{path: "services.*.deploy.labels.*", how: translated},
	{path: "services.*.deploy.endpoint_mode", how: translated},
	{path: "services.*.deploy.resources", how: translated},
	{path: "services.*.deploy.resources.limits", how: translated},
	{path: "services.*.deploy.resources.limits.cpus", how: translated},
	{path: "services.*.deploy.resources.limits.memory", how: translated},
	{path: "services.*.deploy.resources.limits.pids", how: refused, note: "hive's resource limits are CPU and memory; remove the key"},
	{path: "services.*.deploy.resources.reservations", how: translated},
	{path: "services.*.deploy.resources.reservations.cpus", how: translated},
	{path: "services.*.deploy.resources.reservations.memory", how: translated},
	{path: "services.*.deploy.resources.reservations.devices", how: refused, note: "hive does not schedule devices; remove the key"},
	{path: "services.*.deploy.resources.reservations.generic_resources", how: refused, note: "hive does not schedule generic resources; remove the key"},
	{path: "services.*.deploy.restart_policy", how: translated},
	{path: "services.*.deploy.restart_policy.condition", how: translated},
	{path: "services.*.deploy.restart_policy.delay", how: translated},
	{path: "services.*.deploy.restart_policy.max_attempts", how: translated},
	{path: "services.*.deploy.restart_policy.window", how: translated},
	{path: "services.*.deploy.placement", how: translated},
	{path: "services.*.deploy.placement.constraints", how: translated},
	{path: "services.*.deploy.placement.preferences", how: refused, note: "hive has no placement preferences yet; remove the key (constraints are supported)"},
	{path: "services.*.deploy.placement.max_replicas_per_node", how: refused, note: "hive has no limit of replicas per node yet; remove the key"},
	{path: "services.*.deploy.update_config", how: translated},
	{path: "services.*.deploy.rollback_config", how: translated},
	{path: "services.*.deploy.update_config.parallelism", how: translated},
	{path: "services.*.deploy.update_config.delay", how: translated},
	{path: "services.*.deploy.update_config.failure_action", how: translated},
	{path: "services.*.deploy.update_config.monitor", how: translated},
	{path: "services.*.deploy.update_config.max_failure_ratio", how: translated},
	{path: "services.*.deploy.update_config.order", how: translated},
	{path: "services.*.deploy.rollback_config.parallelism", how: translated},
	{path: "services.*.deploy.rollback_config.delay", how: translated},
	{path: "services.*.deploy.rollback_config.failure_action", how: translated},
	{path: "services.*.deploy.rollback_config.monitor", how: translated},
	{path: "services.*.deploy.rollback_config.max_failure_ratio", how: translated},
	{path: "services.*.deploy.rollback_config.order", how: translated},

	// networks.*
	{path: "networks.*.name", how: translated},
	{path: "networks.*.external", how: translated},
	{path: "networks.*.external.name", how: translated},
	{path: "networks.*.driver", how: translated},
	{path: "networks.*.driver_opts", how: translated},
	{path: "networks.*.driver_opts.*", how: translated},
	{path: "networks.*.internal", how: translated},
	{path: "networks.*.attachable", how: translated},
	{path: "networks.*.labels", how: translated},
	{path: "networks.*.labels.*", how: translated},
	{path: "networks.*.ipam", how: translated},
	{path: "networks.*.ipam.config", how: translated},
	{path: "networks.*.ipam.config.[].subnet", how: translated},
	{path: "networks.*.ipam.config.[].gateway", how: translated},
	{path: "networks.*.ipam.config.[].ip_range", how: translated},
	{path: "networks.*.ipam.config.[].aux_addresses", how: refused, note: "hive's networks reserve no auxiliary addresses; remove the key"},
	{path: "networks.*.ipam.driver", how: refused, note: "hive allocates network addresses itself; remove the key"},
	{path: "networks.*.ipam.options", how: refused, note: "hive allocates network addresses itself; remove the key"},
	{path: "networks.*.enable_ipv4", how: refused, note: "hive's networks are IPv4, always; remove the key"},
	{path: "networks.*.enable_ipv6", how: refused, note: "hive's networks are IPv4 only; remove the key"},

	// volumes.*
	{path: "volumes.*.name", how: translated},
	{path: "volumes.*.external", how: translated},
	{path: "volumes.*.external.name", how: translated},
	{path: "volumes.*.driver", how: translated},
	{path: "volumes.*.driver_opts", how: refused, note: "hive's volume mounts use the runtime's local volumes, with no options; remove the key"},
	{path: "volumes.*.labels", how: refused, note: "hive's volume mounts carry no labels; remove the key"},

	// secrets.* and configs.*
	{path: "secrets.*.name", how: translated},
	{path: "secrets.*.file", how: translated},
	{path: "secrets.*.environment", how: translated},
	{path: "secrets.*.external", how: translated},
	{path: "secrets.*.external.name", how: translated},
	{path: "secrets.*.labels", how: translated},
	{path: "secrets.*.labels.*", how: translated},
	{path: "secrets.*.driver", how: translated},
	{path: "secrets.*.driver_opts", how: translated},
	{path: "secrets.*.driver_opts.*", how: translated},
	{path: "secrets.*.template_driver", how: refused, note: "hive does not template secrets; remove the key"},
	{path: "configs.*.name", how: translated},
	{path: "configs.*.file", how: translated},
	{path: "configs.*.environment", how: translated},
	{path: "configs.*.content", how: translated},
	{path: "configs.*.external", how: translated},
	{path: "configs.*.external.name", how: translated},
	{path: "configs.*.labels", how: translated},
	{path: "configs.*.labels.*", how: translated},
	{path: "configs.*.template_driver", how: refused, note: "hive does not template configs; remove the key"},
}

// supportedPaths are the translated keys, for compose-go's screening.
func supportedPaths() []tree.Path {
	var out []tree.Path
	for _, r := range keyRules {
		if r.how == translated {
			out = append(out, tree.Path(r.path))
		}
	}
	return out
}

// ruleFor returns the rule of a concrete path (a finding of the
// screening), if there is one.
func ruleFor(p tree.Path) (keyRule, bool) {
	for _, r := range keyRules {
		if p.Matches(tree.Path(r.path)) {
			return r, true
		}
	}
	return keyRule{}, false
}

// displayPath writes a screening path as people read it:
// services.web.ports[].host_ip.
func displayPath(p tree.Path) string {
	return strings.ReplaceAll(p.String(), ".[]", "[]")
}
