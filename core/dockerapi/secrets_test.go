package dockerapi

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/hiveorch/hive/core/types"
)

func TestSecretCreateInspectNeverReturnsTheValue(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	value := []byte("s3cr3t-value")
	res, err := c.SecretCreate(t.Context(), client.SecretCreateOptions{Spec: swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: "db_password", Labels: map[string]string{"app": "db"}}, Data: value}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := h.b.SecretValue("db_password"); !ok || !bytes.Equal(got, value) {
		t.Errorf("the backend does not hold the value sent")
	}
	for _, ref := range []string{res.ID, "db_password", res.ID[:6]} {
		in, err := c.SecretInspect(t.Context(), ref, client.SecretInspectOptions{})
		if err != nil {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		sec := in.Secret
		if sec.ID != res.ID || sec.Spec.Name != "db_password" || sec.Spec.Labels["app"] != "db" || sec.Version.Index == 0 || sec.CreatedAt.IsZero() {
			t.Errorf("inspect %s = %+v", ref, sec)
		}
		if len(sec.Spec.Data) > 0 || bytes.Contains(in.Raw, []byte(`"Data"`)) {
			t.Errorf("inspect %s returned the secret's value: %s", ref, in.Raw)
		}
	}
	resp := h.raw(http.MethodGet, "/v1.44/secrets")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || bytes.Contains(body, []byte(`"Data"`)) || !bytes.Contains(body, []byte(res.ID)) {
		t.Errorf("GET /secrets: %d %s", resp.StatusCode, body)
	}
	_, err = c.SecretInspect(t.Context(), "nope", client.SecretInspectOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), `secret "nope" not found`) {
		t.Errorf("inspect nope: %v, want a 404", err)
	}
}

func TestSecretCreateResponse(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		body string
		code int
		want string
	}{
		{"created", `{"Name":"a","Data":"dmFsdWU="}`, 201, `"ID"`},
		{"name taken", `{"Name":"a","Data":"dmFsdWU="}`, 409, "already in use"},
		{"templating", `{"Name":"b","Data":"dmFsdWU=","Templating":{"Name":"golang"}}`, 400, "hive does not support Spec.Templating"},
		{"driver and data", `{"Name":"c","Data":"dmFsdWU=","Driver":{"Name":"vault"}}`, 400, "takes no value"},
		{"unknown field", `{"Name":"d","Data":"dmFsdWU=","Color":"red"}`, 400, "unknown field"},
		{"no body", ``, 400, "request body is empty: send a JSON secret spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.rawBody(http.MethodPost, "/v1.44/secrets/create", tc.body)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s, want %d %q", resp.StatusCode, body, tc.code, tc.want)
			}
		})
	}
}

func TestSecretWithADriver(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res, err := c.SecretCreate(t.Context(), client.SecretCreateOptions{Spec: swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: "vaulted"}, Driver: &swarm.Driver{Name: "vault", Options: map[string]string{"path": "secret/data/app#pw"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if sec := h.b.Secret(res.ID); sec == nil || sec.Spec.Driver == nil || sec.Spec.Driver.Name != "vault" || sec.Spec.Driver.Options["path"] != "secret/data/app#pw" {
		t.Errorf("stored = %+v", sec)
	}
	in, err := c.SecretInspect(t.Context(), res.ID, client.SecretInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := in.Secret.Spec.Driver; d == nil || d.Name != "vault" || d.Options["path"] != "secret/data/app#pw" {
		t.Errorf("driver = %+v", d)
	}
}

func TestSecretListFilters(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ids := map[string]string{}
	for name, labels := range map[string]map[string]string{"web_key": {"app": "web"}, "web_cert": {"app": "web", "tier": "front"}, "db_pw": {"app": "db"}} {
		res, err := c.SecretCreate(t.Context(), client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: []byte("v-" + name)}})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = res.ID
	}
	for _, tc := range []struct {
		name    string
		filters client.Filters
		want    []string
		err     string
	}{
		{"none", nil, []string{"db_pw", "web_cert", "web_key"}, ""},
		{"name prefix", client.Filters{}.Add("name", "web"), []string{"web_cert", "web_key"}, ""},
		{"names exact", client.Filters{}.Add("names", "web", "db_pw"), []string{"db_pw"}, ""},
		{"id prefix", client.Filters{}.Add("id", ids["db_pw"][:8]), []string{"db_pw"}, ""},
		{"label", client.Filters{}.Add("label", "app=web"), []string{"web_cert", "web_key"}, ""},
		{"labels all match", client.Filters{}.Add("label", "app=web", "tier"), []string{"web_cert"}, ""},
		{"unknown filter", client.Filters{}.Add("driver", "vault"), nil, "invalid filter 'driver'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.SecretList(t.Context(), client.SecretListOptions{Filters: tc.filters})
			if wantInvalid(t, err, tc.err) {
				return
			}
			var got []string
			for _, s := range res.Items {
				got = append(got, s.Spec.Name)
				if len(s.Spec.Data) > 0 {
					t.Errorf("list returned the value of %s", s.Spec.Name)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("secrets = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSecretUpdate(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res, err := c.SecretCreate(t.Context(), client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "k", Labels: map[string]string{"a": "1"}}, Data: []byte("v1")}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.SecretInspect(t.Context(), res.ID, client.SecretInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	read := in.Secret
	if _, err := c.SecretUpdate(t.Context(), "k", client.SecretUpdateOptions{Version: read.Version, Spec: read.Spec}); err != nil {
		t.Errorf("an update that changes nothing: %v", err)
	}
	for _, tc := range []struct {
		name    string
		version uint64
		edit    func(*swarm.SecretSpec)
		check   func(error) bool
		want    string
	}{
		{"stale version", read.Version.Index - 1, func(*swarm.SecretSpec) {}, cerrdefs.IsConflict, "changed since it was read"},
		{"labels", read.Version.Index, func(s *swarm.SecretSpec) { s.Labels = map[string]string{"a": "2"} }, cerrdefs.IsInvalidArgument, "hive cannot change a secret's Spec.Labels"},
		{"value", read.Version.Index, func(s *swarm.SecretSpec) { s.Data = []byte("v2") }, cerrdefs.IsInvalidArgument, "'hive secret update k FILE'"},
		{"name", read.Version.Index, func(s *swarm.SecretSpec) { s.Name = "other" }, cerrdefs.IsInvalidArgument, "Spec.Name"},
		{"driver", read.Version.Index, func(s *swarm.SecretSpec) { s.Driver = &swarm.Driver{Name: "vault"} }, cerrdefs.IsInvalidArgument, "Spec.Driver"},
		{"templating", read.Version.Index, func(s *swarm.SecretSpec) { s.Templating = &swarm.Driver{Name: "golang"} }, cerrdefs.IsInvalidArgument, "Spec.Templating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := read.Spec
			spec.Labels = map[string]string{"a": "1"}
			tc.edit(&spec)
			_, err := c.SecretUpdate(t.Context(), res.ID, client.SecretUpdateOptions{Version: swarm.Version{Index: tc.version}, Spec: spec})
			if !tc.check(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
	if got, _ := h.b.SecretValue("k"); string(got) != "v1" {
		t.Errorf("the refused updates changed the value")
	}
	if _, err := c.SecretUpdate(t.Context(), "nope", client.SecretUpdateOptions{Version: read.Version, Spec: read.Spec}); !cerrdefs.IsNotFound(err) {
		t.Errorf("update nope: %v, want a 404", err)
	}
}

func TestSecretRemove(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res, err := c.SecretCreate(t.Context(), client.SecretCreateOptions{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "used"}, Data: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	h.b.AddService(&types.Service{ID: "svc1abc", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated,
		Task: types.TaskSpec{Container: types.ContainerSpec{Image: "nginx", Secrets: []types.SecretReference{{SecretID: res.ID, SecretName: "used"}}}}}})
	if _, err := c.SecretRemove(t.Context(), "used", client.SecretRemoveOptions{}); !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "web") {
		t.Errorf("remove a secret in use: %v, want a 409 naming the service", err)
	}
	if err := h.b.RemoveService(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	resp := h.raw(http.MethodDelete, "/v1.44/secrets/used")
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d, want 204", resp.StatusCode)
	}
	if _, err := c.SecretRemove(t.Context(), "used", client.SecretRemoveOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("remove it again: %v, want a 404", err)
	}
}

func TestConfigsReturnTheirData(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	data := []byte("server { listen 80; }")
	res, err := c.ConfigCreate(t.Context(), client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "nginx.conf", Labels: map[string]string{"app": "web"}}, Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{res.ID, "nginx.conf", res.ID[:6]} {
		in, err := c.ConfigInspect(t.Context(), ref, client.ConfigInspectOptions{})
		if err != nil {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		if cfg := in.Config; cfg.ID != res.ID || cfg.Spec.Name != "nginx.conf" || !bytes.Equal(cfg.Spec.Data, data) || cfg.Spec.Labels["app"] != "web" || cfg.Version.Index == 0 {
			t.Errorf("inspect %s = %+v", ref, cfg)
		}
	}
	if _, err := c.ConfigCreate(t.Context(), client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "other.conf"}, Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		filters client.Filters
		want    []string
		err     string
	}{
		{"none", nil, []string{"nginx.conf", "other.conf"}, ""},
		{"name prefix", client.Filters{}.Add("name", "ngi"), []string{"nginx.conf"}, ""},
		{"id prefix", client.Filters{}.Add("id", res.ID[:8]), []string{"nginx.conf"}, ""},
		{"label", client.Filters{}.Add("label", "app"), []string{"nginx.conf"}, ""},
		{"no names filter, as in dockerd", client.Filters{}.Add("names", "nginx.conf"), nil, "invalid filter 'names'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.ConfigList(t.Context(), client.ConfigListOptions{Filters: tc.filters})
			if wantInvalid(t, err, tc.err) {
				return
			}
			var got []string
			for _, cfg := range res.Items {
				got = append(got, cfg.Spec.Name)
				if len(cfg.Spec.Data) == 0 {
					t.Errorf("list left out the data of %s", cfg.Spec.Name)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("configs = %v, want %v", got, tc.want)
			}
		})
	}
	_, err = c.ConfigInspect(t.Context(), "nope", client.ConfigInspectOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), `config "nope" not found`) {
		t.Errorf("inspect nope: %v, want a 404", err)
	}
}

func TestConfigUpdateAndRemove(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res, err := c.ConfigCreate(t.Context(), client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "app.conf"}, Data: []byte("a=1")}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.ConfigInspect(t.Context(), res.ID, client.ConfigInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	read := in.Config
	if _, err := c.ConfigUpdate(t.Context(), res.ID, client.ConfigUpdateOptions{Version: read.Version, Spec: read.Spec}); err != nil {
		t.Errorf("an update that changes nothing: %v", err)
	}
	for _, tc := range []struct {
		name    string
		version uint64
		edit    func(*swarm.ConfigSpec)
		check   func(error) bool
		want    string
	}{
		{"stale version", read.Version.Index + 1, func(*swarm.ConfigSpec) {}, cerrdefs.IsConflict, "changed since it was read"},
		{"data", read.Version.Index, func(s *swarm.ConfigSpec) { s.Data = []byte("a=2") }, cerrdefs.IsInvalidArgument, "'hive config update app.conf FILE'"},
		{"labels", read.Version.Index, func(s *swarm.ConfigSpec) { s.Labels = map[string]string{"x": "y"} }, cerrdefs.IsInvalidArgument, "Spec.Labels"},
		{"templating", read.Version.Index, func(s *swarm.ConfigSpec) { s.Templating = &swarm.Driver{Name: "golang"} }, cerrdefs.IsInvalidArgument, "Spec.Templating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := read.Spec
			tc.edit(&spec)
			_, err := c.ConfigUpdate(t.Context(), res.ID, client.ConfigUpdateOptions{Version: swarm.Version{Index: tc.version}, Spec: spec})
			if !tc.check(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
	resp := h.raw(http.MethodDelete, "/v1.44/configs/app.conf")
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d, want 204", resp.StatusCode)
	}
	if _, err := c.ConfigRemove(t.Context(), res.ID, client.ConfigRemoveOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("remove it again: %v, want a 404", err)
	}
}
