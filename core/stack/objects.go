package stack

import (
	"github.com/hiveorch/hive/core/types"
)

// Labels hive puts on a stack's objects: Swarm's, so that Docker clients
// see hive's stacks too.
const (
	// LabelNamespace is on every object a stack creates (networks,
	// secrets, configs, services and the services' containers), with the
	// stack's name.
	LabelNamespace = "com.docker.stack.namespace"
	// LabelImage is on every service, with the image the file names.
	LabelImage = "com.docker.stack.image"
)

// Objects are the hive objects a stack is made of, in the form the API
// takes them at creation: create the networks, secrets and configs first,
// then the services. Every list is sorted by name.
//
// A service refers to networks, secrets and configs by name
// (NetworkAttachmentConfig.Target, SecretReference.SecretName,
// ConfigReference.ConfigName, with no ID): the managers resolve names to
// IDs when they store the service, as they do for `hive service create
// --network NAME --secret NAME`, so the objects need not exist yet when
// the specs are built, only when they are sent.
type Objects struct {
	// Stack is the stack's name, the prefix of every object's name.
	Stack string
	// Networks are the networks to create: those the stack's services use
	// that are not external.
	Networks []types.NetworkSpec
	// Secrets and Configs are those to create, with their values.
	Secrets []SecretObject
	Configs []ConfigObject
	// Volumes are the named volumes the services mount. hive has no volume
	// objects: a node's runtime creates a volume the first time a task
	// there mounts it (and an external one must exist on the nodes).
	Volumes []Volume
	// External are the networks, secrets and configs the stack uses but
	// does not create: they must exist already.
	External External
	// Services are the service specs, normalized.
	Services []types.ServiceSpec
}

// SecretObject is a secret to create. A driver-backed secret (Spec.Driver) has
// no value: its driver holds it.
type SecretObject struct {
	Spec types.SecretSpec
	// Value is the secret's value, from its file or environment variable;
	// it redacts itself when printed.
	Value types.SecretValue
}

// ConfigObject is a config to create.
type ConfigObject struct {
	Spec types.ConfigSpec
	Data []byte
}

// Volume is a named volume a service mounts.
type Volume struct {
	Name string
	// External volumes are not the stack's: they keep their name and must
	// exist on the nodes.
	External bool
}

// External are the names of objects the stack refers to without creating
// them.
type External struct {
	Networks []string
	Secrets  []string
	Configs  []string
}
