package sdk

import "errors"

// Error kinds a plugin returns, wrapped with context (fmt.Errorf("...: %w",
// sdk.ErrNotFound)). They survive the trip across gRPC: the adapters map
// each to a gRPC status code and back, so errors.Is works on hive's side.
var (
	// ErrNotFound: the object (container, image) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object of that name already exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the request is malformed; retrying will not help.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnavailable: the plugin or what it drives is not reachable now;
	// retrying later may help.
	ErrUnavailable = errors.New("unavailable")
	// ErrFailedPrecondition: the object is not in a state that allows the
	// call (starting a running container, for instance).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnimplemented: the plugin does not support the call.
	ErrUnimplemented = errors.New("unimplemented")
)
