package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/vault/api"

	"github.com/hiveorch/hive/plugins/sdk"
)

// authenticator gives the token to call Vault with.
type authenticator interface {
	// token returns the current token, logging in first when there is
	// none. Safe for concurrent use.
	token(ctx context.Context) (string, error)
	// refused tells the authenticator that Vault refused tok (403): an
	// AppRole login is dropped so that the next token logs in again.
	// It reports whether a new token may do better.
	refused(tok string) bool
	// close stops background work (token renewal).
	close()
}

// staticToken is token auth: the token setting, or token_file read at each
// call so that a token rotated on disk (by Vault Agent) is picked up.
type staticToken struct {
	tok  string
	file string
}

func (s *staticToken) token(context.Context) (string, error) {
	if s.file == "" {
		return s.tok, nil
	}
	b, err := os.ReadFile(s.file)
	if err != nil {
		return "", fmt.Errorf("read token_file: %v: %w", err, sdk.ErrFailedPrecondition)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token_file %s is empty: %w", s.file, sdk.ErrFailedPrecondition)
	}
	return tok, nil
}

func (s *staticToken) refused(string) bool { return s.file != "" }

func (s *staticToken) close() {}

// appRole logs in with AppRole and keeps the token alive: a background
// LifetimeWatcher renews it while Vault allows, and when it cannot any
// more (the token reached its max TTL, or was revoked) the token is
// dropped and the next call logs in again.
type appRole struct {
	client       *api.Client // carries no token
	address      string
	mount        string
	roleID       string
	secretID     string
	secretIDFile string
	log          *slog.Logger

	// login serialises logins; mu guards the fields below.
	login  sync.Mutex
	mu     sync.Mutex
	tok    string
	stop   context.CancelFunc // stops the renewal of tok
	closed bool
}

func (a *appRole) token(ctx context.Context) (string, error) {
	if tok := a.current(); tok != "" {
		return tok, nil
	}
	a.login.Lock()
	defer a.login.Unlock()
	if tok := a.current(); tok != "" {
		return tok, nil
	}
	return a.doLogin(ctx)
}

func (a *appRole) current() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tok
}

// doLogin logs in and starts renewing the new token. a.login is held.
func (a *appRole) doLogin(ctx context.Context) (string, error) {
	secretID := a.secretID
	if a.secretIDFile != "" {
		b, err := os.ReadFile(a.secretIDFile)
		if err != nil {
			return "", fmt.Errorf("approle login: read secret_id_file: %v: %w", err, sdk.ErrFailedPrecondition)
		}
		secretID = strings.TrimSpace(string(b))
	}
	r := a.client.NewRequest(http.MethodPut, "/v1/auth/"+a.mount+"/login")
	r.ClientToken = ""
	if err := r.SetJSONBody(map[string]string{"role_id": a.roleID, "secret_id": secretID}); err != nil {
		return "", fmt.Errorf("approle login: %w", err)
	}
	// The raw request carries its own (empty) token: Logical() would send
	// the shared client's, and setting that would race with other calls.
	//lint:ignore SA1019 the only call that takes a per-request token
	resp, err := a.client.RawRequestWithContext(ctx, r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500 {
			return "", vaultError("approle login at auth/"+a.mount, a.address, err)
		}
		// Vault refused the role_id or secret_id (400), or the mount
		// (403, 404): only the operator can fix that.
		return "", fmt.Errorf("approle login at auth/%s refused: %s (check role_id, secret_id and approle_mount): %w",
			a.mount, answer(re), sdk.ErrFailedPrecondition)
	}
	secret, err := api.ParseSecret(resp.Body)
	if err != nil || secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return "", fmt.Errorf("approle login at auth/%s: vault answered without a token: %w", a.mount, sdk.ErrUnavailable)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return "", fmt.Errorf("approle login: the driver was reconfigured: %w", sdk.ErrUnavailable)
	}
	if a.stop != nil {
		a.stop()
	}
	a.tok, a.stop = secret.Auth.ClientToken, nil
	a.log.Info("approle login", "mount", a.mount, "ttl_seconds", secret.Auth.LeaseDuration, "renewable", secret.Auth.Renewable)
	if secret.Auth.Renewable {
		renewCtx, stop := context.WithCancel(context.Background())
		a.stop = stop
		go a.renew(renewCtx, secret)
	}
	return a.tok, nil
}

// renew keeps secret's token alive until it cannot be renewed any more or
// ctx ends; then the token is dropped.
func (a *appRole) renew(ctx context.Context, secret *api.Secret) {
	tok := secret.Auth.ClientToken
	w, err := a.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		a.log.Warn("approle token renewal not started", "error", err)
		return
	}
	go w.Start()
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-w.RenewCh():
			ttl := 0
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				ttl = r.Secret.Auth.LeaseDuration
			}
			a.log.Debug("approle token renewed", "ttl_seconds", ttl)
		case err := <-w.DoneCh():
			if err != nil {
				a.log.Warn("approle token renewal stopped; logging in again at the next call", "error", err)
			} else {
				a.log.Info("approle token reached its max TTL; logging in again at the next call")
			}
			a.drop(tok)
			return
		}
	}
}

// drop forgets tok if it is still the current token.
func (a *appRole) drop(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == tok {
		a.tok = ""
		if a.stop != nil {
			a.stop()
			a.stop = nil
		}
	}
}

func (a *appRole) refused(tok string) bool {
	a.drop(tok)
	return true
}

func (a *appRole) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	a.tok = ""
	if a.stop != nil {
		a.stop()
		a.stop = nil
	}
}
