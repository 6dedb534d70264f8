package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/vault/api"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
)

// Name is the plugin's name.
const Name = "secrets-vault"

// Version is the plugin's version.
const Version = "0.1.0"

// Driver is the secrets-vault plugin. Configure must succeed before Get
// and Health work. Safe for concurrent use.
type Driver struct {
	log *slog.Logger

	mu    sync.RWMutex
	state *state // nil until configured
}

// state is what one Configure set up.
type state struct {
	cfg    *config
	client *api.Client // carries no token
	auth   authenticator
}

var _ secrets.Driver = (*Driver)(nil)

// New returns an unconfigured driver that logs to log (nil: nowhere).
func New(log *slog.Logger) *Driver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{log: log}
}

// Describe reports the plugin's identity.
func (d *Driver) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindSecrets, Version: Version, Capabilities: []string{"kv-v2", "approle"}}, nil
}

// Configure checks the settings and sets the driver up. It does not reach
// Vault: a Vault that is down now makes Health and Get fail, not the
// configuration. A bad setting wraps sdk.ErrInvalidArgument and names it.
func (d *Driver) Configure(_ context.Context, settings map[string]string) error {
	cfg, err := parseSettings(settings)
	if err != nil {
		return err
	}
	client, err := cfg.newClient()
	if err != nil {
		return err
	}
	var auth authenticator = &staticToken{tok: cfg.token, file: cfg.tokenFile}
	method := "token"
	if cfg.approle() {
		method = "approle"
		auth = &appRole{
			client: client, address: cfg.address, mount: cfg.approleMount,
			roleID: cfg.roleID, secretID: cfg.secretID, secretIDFile: cfg.secretIDFile,
			log: d.log,
		}
	}
	d.mu.Lock()
	old := d.state
	d.state = &state{cfg: cfg, client: client, auth: auth}
	d.mu.Unlock()
	if old != nil {
		old.auth.close()
	}
	d.log.Info("configured", "address", cfg.address, "auth", method, "namespace", cfg.namespace, "mounts", strings.Join(cfg.mounts, ","))
	return nil
}

func (d *Driver) current() (*state, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.state == nil {
		return nil, fmt.Errorf("%s is not configured: set plugins.config.%s.address and credentials: %w", Name, Name, sdk.ErrFailedPrecondition)
	}
	return d.state, nil
}

// Health checks that Vault answers, is initialised and unsealed, and that
// the driver's credentials give a valid token.
func (d *Driver) Health(ctx context.Context) error {
	st, err := d.current()
	if err != nil {
		return err
	}
	h, err := st.client.Sys().HealthWithContext(ctx)
	if err != nil {
		return vaultError("health", st.cfg.address, err)
	}
	switch {
	case !h.Initialized:
		return fmt.Errorf("health: vault at %s is not initialised: %w", st.cfg.address, sdk.ErrUnavailable)
	case h.Sealed:
		return fmt.Errorf("health: vault at %s is sealed: %w", st.cfg.address, sdk.ErrUnavailable)
	}
	_, err = withToken(ctx, st, func(tok string) (*api.Secret, error) {
		r := st.client.NewRequest(http.MethodGet, "/v1/auth/token/lookup-self")
		r.ClientToken = tok
		return st.do(ctx, r)
	})
	if err != nil {
		return fmt.Errorf("health: check the token: %w", err)
	}
	return nil
}

// Get reads the field of the KV v2 secret that ref's path option names.
func (d *Driver) Get(ctx context.Context, ref secrets.Ref) (secrets.Value, error) {
	st, err := d.current()
	if err != nil {
		return secrets.Value{}, err
	}
	r, err := parseRef(ref, st.cfg.mounts)
	if err != nil {
		return secrets.Value{}, err
	}
	if err := ctx.Err(); err != nil {
		return secrets.Value{}, fmt.Errorf("read %s: %w", r, err)
	}
	secret, err := withToken(ctx, st, func(tok string) (*api.Secret, error) {
		req := st.client.NewRequest(http.MethodGet, "/v1/"+r.apiPath())
		req.ClientToken = tok
		if r.version > 0 {
			req.Params.Set("version", strconv.Itoa(r.version))
		}
		return st.do(ctx, req)
	})
	if err != nil {
		return secrets.Value{}, fmt.Errorf("read %s: %w", r, err)
	}
	v, err := fieldValue(secret, r)
	if err != nil {
		return secrets.Value{}, err
	}
	d.log.Debug("read secret", "secret", ref.Secret, "path", r.apiPath(), "field", r.field, "version", r.version)
	return v, nil
}

// withToken runs call with the current token; when Vault refuses the
// token and the authenticator may get a better one (a new AppRole login, a
// rotated token file), it runs call once more.
func withToken(ctx context.Context, st *state, call func(tok string) (*api.Secret, error)) (*api.Secret, error) {
	for attempt := 0; ; attempt++ {
		tok, err := st.auth.token(ctx)
		if err != nil {
			return nil, err
		}
		secret, err := call(tok)
		if err == nil || !isDenied(err) || attempt > 0 || !st.auth.refused(tok) {
			return secret, err
		}
	}
}

// do sends r and parses the answer; a 404 is sdk.ErrNotFound, other
// failures are classified by vaultError.
func (st *state) do(ctx context.Context, r *api.Request) (*api.Secret, error) {
	// r carries the token of this call (withToken may retry with a new
	// one); Logical() would send the shared client's instead.
	//lint:ignore SA1019 the only call that takes a per-request token
	resp, err := st.client.RawRequestWithContext(ctx, r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		// A deleted KV v2 version answers 404 with its metadata.
		secret, _ := api.ParseSecret(resp.Body)
		if secret != nil && secret.Data != nil {
			return secret, nil
		}
		return nil, vaultError("", st.cfg.address, err)
	}
	if err != nil {
		return nil, vaultError("", st.cfg.address, err)
	}
	secret, err := api.ParseSecret(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("vault: parse the answer: %v: %w", err, sdk.ErrUnavailable)
	}
	return secret, nil
}

// fieldValue picks r's field out of a KV v2 read. A string is the value
// as is; any other JSON value (number, boolean, object, list) is its JSON
// text.
func fieldValue(secret *api.Secret, r kvRef) (secrets.Value, error) {
	notFound := func(format string, args ...any) (secrets.Value, error) {
		return secrets.Value{}, fmt.Errorf("read %s: %s: %w", r, fmt.Sprintf(format, args...), sdk.ErrNotFound)
	}
	if secret == nil || secret.Data == nil {
		return notFound("no secret at %s (is %s a KV version 2 mount?)", r.apiPath(), r.mount)
	}
	data, _ := secret.Data["data"].(map[string]any)
	if data == nil {
		if meta, _ := secret.Data["metadata"].(map[string]any); meta != nil {
			if dt, _ := meta["deletion_time"].(string); dt != "" {
				return notFound("this version was deleted at %s", dt)
			}
			if destroyed, _ := meta["destroyed"].(bool); destroyed {
				return notFound("this version was destroyed")
			}
		}
		return notFound("no data at %s (is %s a KV version 2 mount?)", r.apiPath(), r.mount)
	}
	raw, ok := data[r.field]
	if !ok || raw == nil {
		fields := slices.Sorted(maps.Keys(data))
		return notFound("no field %q (fields: %s)", r.field, strings.Join(fields, ", "))
	}
	switch v := raw.(type) {
	case string:
		return secrets.NewValue([]byte(v)), nil
	case json.Number:
		return secrets.NewValue([]byte(v.String())), nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return secrets.Value{}, fmt.Errorf("read %s: encode field %q: %T", r, r.field, v)
		}
		return secrets.NewValue(b), nil
	}
}
