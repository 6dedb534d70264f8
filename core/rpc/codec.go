package rpc

import (
	"encoding/json"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// jsonCodec encodes messages as JSON: the messages are hive's domain types
// themselves. It is forced on the server and on every call, so it never
// needs registering.
type jsonCodec struct{}

var _ encoding.Codec = jsonCodec{}

func (jsonCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// Name is the content-subtype: "application/grpc+json".
func (jsonCodec) Name() string { return "json" }

// withCodec is the call option every client call carries.
var withCodec = grpc.ForceCodec(jsonCodec{})
