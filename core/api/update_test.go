package api_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestRollbackRoute(t *testing.T) {
	b, srv := fixture(t)
	status, _, body := do(t, srv, "POST", "/v1/services/web/rollback", "")
	if status != 400 || !strings.Contains(body, `"kind":"invalid_argument"`) || !strings.Contains(body, "no previous spec to roll back to") {
		t.Fatalf("rollback of a service never updated: %d %s", status, body)
	}
	update := `{"name":"web","mode":"replicated","replicas":2,"task":{"container":{"image":"nginx:2"}}}`
	if status, _, body := do(t, srv, "POST", fmt.Sprintf("/v1/services/web/update?version=%d", b.Service("web").Version), update); status != 200 {
		t.Fatalf("update: %d %s", status, body)
	}
	status, _, body = do(t, srv, "POST", "/v1/services/web/rollback", "")
	for _, want := range []string{`"image":"nginx"`, `"previous_spec":{`, `"image":"nginx:2"`, `"update_status":{"state":"rollback_started"`} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("rollback: %d, body %s lacks %s", status, body, want)
		}
	}
	if status, _, body := do(t, srv, "POST", "/v1/services/nope/rollback", ""); status != 404 {
		t.Errorf("rollback of a missing service: %d %s", status, body)
	}
}
