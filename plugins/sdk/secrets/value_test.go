package secrets_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

func TestValueRedactsEverywhere(t *testing.T) {
	const plain = "hunter2-plaintext"
	v := secrets.NewValue([]byte(plain))
	if string(v.Reveal()) != plain || v.Len() != len(plain) {
		t.Fatalf("Reveal/Len: %d bytes", v.Len())
	}

	var printed []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		printed = append(printed, fmt.Sprintf(verb, v))
	}
	printed = append(printed, fmt.Sprint(v), fmt.Sprintf("%v", struct{ V secrets.Value }{v}), fmt.Sprintf("%+v", []secrets.Value{v}))
	j, err := json.Marshal(map[string]any{"v": v})
	if err != nil {
		t.Fatal(err)
	}
	printed = append(printed, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "value", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "value", v)
	printed = append(printed, buf.String())

	for _, p := range printed {
		if strings.Contains(p, plain) || strings.Contains(p, fmt.Sprintf("%x", plain)) {
			t.Errorf("printed form shows the plaintext: %s", p)
		}
	}
	if fmt.Sprint(v) != secrets.Redacted {
		t.Errorf("fmt.Sprint = %q, want %q", fmt.Sprint(v), secrets.Redacted)
	}
}
