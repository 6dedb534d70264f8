package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range [][]byte{{}, []byte("hunter2"), bytes.Repeat([]byte{0xAB}, 500*1024)} {
		sealed, err := Seal(k, plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != len(plain)+Overhead {
			t.Errorf("sealed %d bytes into %d, want %d", len(plain), len(sealed), len(plain)+Overhead)
		}
		if len(plain) > 4 && bytes.Contains(sealed, plain) {
			t.Error("the sealed bytes contain the plaintext")
		}
		got, err := Open(k, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("opened %d bytes, want the %d sealed", len(got), len(plain))
		}
	}
}

func TestSealUsesAFreshNonce(t *testing.T) {
	k, _ := NewKey()
	a, _ := Seal(k, []byte("same"))
	b, _ := Seal(k, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are identical: the nonce is reused")
	}
}

func TestOpenRefuses(t *testing.T) {
	k, _ := NewKey()
	other, _ := NewKey()
	sealed, _ := Seal(k, []byte("hunter2"))
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	badFormat := bytes.Clone(sealed)
	badFormat[0] = 9
	for name, tc := range map[string]struct {
		k      *Key
		sealed []byte
	}{
		"wrong key":    {other, sealed},
		"damaged":      {k, flipped},
		"short":        {k, sealed[:10]},
		"other format": {k, badFormat},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(tc.k, tc.sealed)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %v, want ErrOpen", err)
			}
		})
	}
}

func TestKeyRedacts(t *testing.T) {
	k, _ := KeyFromBytes(bytes.Repeat([]byte{'s'}, KeySize))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "key", k, "value", *k)
	js, _ := json.Marshal(struct{ K *Key }{k})
	outs := []string{
		fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v %s %x %q", *k, *k, *k, *k, *k, *k),
		fmt.Sprint(struct{ K *Key }{k}), fmt.Sprintf("%+v", struct{ K Key }{*k}),
		logs.String(), string(js),
	}
	for _, out := range outs {
		if strings.Contains(out, "sss") || strings.Contains(out, "737373") || strings.Contains(out, "115 115") {
			t.Errorf("key leaked: %s", out)
		}
	}
}

func TestKeyFromBytes(t *testing.T) {
	if _, err := KeyFromBytes(make([]byte, 31)); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	k, _ := NewKey()
	k2, err := KeyFromBytes(k.Bytes())
	if err != nil || !k.Equal(k2) {
		t.Fatalf("KeyFromBytes(k.Bytes()) = %v, %v", k2, err)
	}
}
