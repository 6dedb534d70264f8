//go:build acceptance

package acceptance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hiveorch/hive/plugins/secrets-vault/vault/vaulttest"
)

// TestAVaultSecretReachesTheTask proves the secrets-vault plugin against
// a real Vault server in dev mode: a secret created with --driver vault
// holds no value in hive; the task that uses it reads the value Vault
// holds, which no file of the data directory (Raft log, snapshots) ever
// holds. With Vault down, a task whose secret cannot be fetched waits in
// preparing, showing why, and starts once Vault serves it.
func TestAVaultSecretReachesTheTask(t *testing.T) {
	v := vaulttest.Start(t)
	leaks.secret(t.Name(), "Vault token", vaulttest.RootToken)
	value := secretValue(t)
	v.Put(t, "app", map[string]any{"password": value})

	n := startHive(t,
		"HIVE_PLUGINS_SECRETS=vault",
		"HIVE_PLUGINS_CONFIG_SECRETS_VAULT_ADDRESS="+v.Addr,
		"HIVE_PLUGINS_CONFIG_SECRETS_VAULT_TOKEN="+vaulttest.RootToken)
	n.forgetRunDir()
	n.must("secret", "create", "--driver", "vault", "--opt", "path=secret/data/app#password", "app_pw")
	if out := n.must("secret", "inspect", "app_pw"); !strings.Contains(out, `"vault"`) || !strings.Contains(out, "secret/data/app#password") {
		t.Errorf("secret inspect app_pw shows no driver:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--driver", "vault", "--opt", "path=secret/data/app", "no_field"}, "#"},
		{[]string{"--driver", "vault", "--opt", "paht=secret/data/app#password", "typo"}, "paht"},
		{[]string{"--driver", "aws", "--opt", "path=x", "other_driver"}, "not configured"},
	} {
		_, stderr, err := n.run(append([]string{"secret", "create"}, tc.args...)...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("secret create %v: err %v, stderr %q, want an error about %q", tc.args, err, stderr, tc.want)
		}
	}
	if ls := n.must("secret", "ls"); strings.Contains(ls, "no_field") || strings.Contains(ls, "typo") || strings.Contains(ls, "other_driver") {
		t.Errorf("a refused secret was created:\n%s", ls)
	}
	n.must("service", "create", "--name", "vaulted", "--secret", "app_pw", imageV1, "stat", "/run/secrets/app_pw")
	n.awaitLog("vaulted", fmt.Sprintf(`/run/secrets/app_pw uid=0 gid=0 mode=0444 fs=tmpfs content=%q`, value))
	n.assertNoPlaintext(value)

	// Vault goes down. A secret no task has fetched yet cannot be had.
	addr := strings.TrimPrefix(v.Addr, "http://")
	v.Stop()
	later := secretValue(t)
	n.must("secret", "create", "--driver", "vault", "--opt", "path=secret/other#token", "other_token")
	n.must("service", "create", "-d", "--name", "waiting", "--secret", "other_token", imageV1, "stat", "/run/secrets/other_token")
	waitingWithReason := func() error {
		tasks := n.tasks("waiting")
		if len(tasks) != 1 {
			return fmt.Errorf("tasks: %+v", tasks)
		}
		st := tasks[0].Status
		if st.State != "preparing" || st.Message != "waiting for secret other_token" || !strings.Contains(st.Err, "unreachable") {
			return fmt.Errorf("task status %+v, want preparing, waiting for other_token because Vault is unreachable", st)
		}
		return nil
	}
	n.eventually(30*time.Second, "the task waiting for Vault, with the reason", waitingWithReason)
	time.Sleep(6 * time.Second) // longer than a refresh: it keeps waiting, it does not fail
	if err := waitingWithReason(); err != nil {
		t.Error(err)
	}
	if out := n.must("service", "ps", "--no-trunc", "waiting"); !strings.Contains(out, "unreachable") {
		t.Errorf("service ps does not show why the task waits:\n%s", out)
	}

	// Vault is back (a new dev server: its secrets are written again).
	v2 := vaulttest.StartAt(t, addr)
	v2.Put(t, "other", map[string]any{"token": later})
	n.awaitLog("waiting", fmt.Sprintf(`/run/secrets/other_token uid=0 gid=0 mode=0444 fs=tmpfs content=%q`, later))
	n.must("service", "inspect", "waiting")
	n.assertNoPlaintext(value)
	n.assertNoPlaintext(later)
}
