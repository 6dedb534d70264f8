package store

import (
	"errors"
	"testing"

	"github.com/hiveorch/hive/core/types"
)

func TestSecretsAndConfigsAreStoredByIDAndName(t *testing.T) {
	s, _ := newMemory(t)
	events, cancel := s.ViewAndWatch(nil, nil)
	defer cancel()
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.CreateSecret(&types.Secret{ID: "s1", Spec: types.SecretSpec{Name: "db"}, ValueVersion: 1, Sealed: []byte("sealed")}); err != nil {
			return err
		}
		return tx.CreateConfig(&types.Config{ID: "c1", Spec: types.ConfigSpec{Name: "app"}, ValueVersion: 1, Data: []byte("x")})
	})
	tx := view(s)
	if sec := tx.SecretByName("db"); sec == nil || sec.ID != "s1" || string(sec.Sealed) != "sealed" {
		t.Fatalf("SecretByName(db) = %+v", sec)
	}
	if c := tx.ConfigByName("app"); c == nil || c.ID != "c1" || tx.Config("c1") == nil {
		t.Fatalf("ConfigByName(app) = %+v", c)
	}
	if len(tx.Secrets()) != 1 || len(tx.Configs()) != 1 {
		t.Fatalf("%d secrets and %d configs, want 1 of each", len(tx.Secrets()), len(tx.Configs()))
	}
	if ev := <-events; ev.Secret == nil || ev.Action != ActionCreate {
		t.Fatalf("first event = %+v, want a secret created", ev)
	}
	if ev := <-events; ev.Config == nil || ev.Action != ActionCreate {
		t.Fatalf("second event = %+v, want a config created", ev)
	}

	// Names are unique per kind; a secret and a config may share one.
	err := s.Update(testCtx(t), func(tx Tx) error {
		return tx.CreateSecret(&types.Secret{ID: "s2", Spec: types.SecretSpec{Name: "db"}})
	})
	if !errors.Is(err, ErrNameConflict) {
		t.Fatalf("second secret named db: %v, want ErrNameConflict", err)
	}
	err = s.Update(testCtx(t), func(tx Tx) error {
		return tx.CreateConfig(&types.Config{ID: "c2", Spec: types.ConfigSpec{Name: "app"}})
	})
	if !errors.Is(err, ErrNameConflict) {
		t.Fatalf("second config named app: %v, want ErrNameConflict", err)
	}
	mustUpdate(t, s, func(tx Tx) error {
		return tx.CreateConfig(&types.Config{ID: "c3", Spec: types.ConfigSpec{Name: "db"}, Data: []byte("y")})
	})

	mustUpdate(t, s, func(tx Tx) error {
		sec := tx.Secret("s1").Copy()
		sec.ValueVersion++
		sec.Sealed = []byte("sealed2")
		if err := tx.UpdateSecret(sec); err != nil {
			return err
		}
		return tx.DeleteConfig("c1")
	})
	<-events // c3 created
	if ev := <-events; ev.Action != ActionUpdate || ev.OldSecret == nil || string(ev.OldSecret.Sealed) != "sealed" || ev.Secret.ValueVersion != 2 {
		t.Fatalf("update event = %+v", ev)
	}
	if ev := <-events; ev.Action != ActionDelete || ev.Config == nil || ev.Config.ID != "c1" {
		t.Fatalf("delete event = %+v", ev)
	}
	mustUpdate(t, s, func(tx Tx) error { return tx.DeleteSecret("s1") })
	if view(s).Secret("s1") != nil {
		t.Fatal("secret s1 is still stored after its deletion")
	}
}
