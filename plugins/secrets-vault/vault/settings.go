package vault

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/hiveorch/hive/plugins/sdk"
)

// Setting names (plugins.config.secrets-vault.*).
const (
	setAddress       = "address"
	setToken         = "token"
	setTokenFile     = "token_file"
	setRoleID        = "role_id"
	setSecretID      = "secret_id"
	setSecretIDFile  = "secret_id_file"
	setAppRoleMount  = "approle_mount"
	setMounts        = "mounts"
	setNamespace     = "namespace"
	setCACert        = "ca_cert"
	setClientCert    = "client_cert"
	setClientKey     = "client_key"
	setTLSServerName = "tls_server_name"
	setTimeout       = "timeout"
)

var knownSettings = []string{
	setAddress, setToken, setTokenFile, setRoleID, setSecretID, setSecretIDFile, setAppRoleMount,
	setMounts, setNamespace, setCACert, setClientCert, setClientKey, setTLSServerName, setTimeout,
}

// Defaults.
const (
	defaultAppRoleMount = "approle"
	defaultMount        = "secret"
	defaultTimeout      = 10 * time.Second
)

// config is the parsed settings.
type config struct {
	address   string
	namespace string
	timeout   time.Duration
	// mounts are the KV v2 mounts a path may start with, longest first;
	// a path starting with none has its first segment as its mount.
	mounts []string

	// Exactly one way to authenticate: token or tokenFile, or roleID
	// with secretID or secretIDFile.
	token, tokenFile               string
	roleID, secretID, secretIDFile string
	approleMount                   string
	caCert, clientCert, clientKey  string
	tlsServerName                  string
}

func (c *config) approle() bool { return c.roleID != "" }

// invalid is a settings error: it names the setting and what is expected.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", Name, fmt.Sprintf(format, args...), sdk.ErrInvalidArgument)
}

// parseSettings checks settings and fills in the defaults. Errors name the
// setting, never a credential's value.
func parseSettings(s map[string]string) (*config, error) {
	for k := range s {
		if !slices.Contains(knownSettings, k) {
			return nil, invalid("unknown setting %q (known: %s)", k, strings.Join(knownSettings, ", "))
		}
	}
	get := func(k string) string { return strings.TrimSpace(s[k]) }
	c := &config{
		address:       get(setAddress),
		namespace:     strings.Trim(get(setNamespace), "/"),
		token:         get(setToken),
		tokenFile:     get(setTokenFile),
		roleID:        get(setRoleID),
		secretID:      get(setSecretID),
		secretIDFile:  get(setSecretIDFile),
		approleMount:  strings.Trim(get(setAppRoleMount), "/"),
		caCert:        get(setCACert),
		clientCert:    get(setClientCert),
		clientKey:     get(setClientKey),
		tlsServerName: get(setTLSServerName),
		timeout:       defaultTimeout,
	}

	if c.address == "" {
		return nil, invalid("setting %s is required: Vault's URL, such as https://vault.example.com:8200", setAddress)
	}
	u, err := url.Parse(c.address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, invalid("setting %s: %q is not a URL such as https://vault.example.com:8200", setAddress, c.address)
	}

	methods := 0
	for _, set := range []bool{c.token != "", c.tokenFile != "", c.roleID != ""} {
		if set {
			methods++
		}
	}
	const how = "set token (or token_file) for token auth, or role_id with secret_id (or secret_id_file) for AppRole"
	switch {
	case methods == 0:
		return nil, invalid("no credentials: %s", how)
	case methods > 1:
		return nil, invalid("token, token_file and role_id exclude each other: %s", how)
	case c.approle() && (c.secretID == "") == (c.secretIDFile == ""):
		return nil, invalid("AppRole needs exactly one of secret_id and secret_id_file with role_id")
	case !c.approle() && (c.secretID != "" || c.secretIDFile != ""):
		return nil, invalid("secret_id and secret_id_file go with role_id (AppRole); %s", how)
	}
	if s[setAppRoleMount] != "" && !c.approle() {
		return nil, invalid("approle_mount goes with role_id (AppRole)")
	}
	if c.approleMount == "" {
		c.approleMount = defaultAppRoleMount
	}

	c.mounts = []string{defaultMount}
	if raw, ok := s[setMounts]; ok {
		c.mounts = nil
		for _, m := range strings.Split(raw, ",") {
			m = strings.Trim(strings.TrimSpace(m), "/")
			if m == "" {
				continue
			}
			if err := checkSegments(m); err != nil {
				return nil, invalid("setting %s: mount %q: %v", setMounts, m, err)
			}
			c.mounts = append(c.mounts, m)
		}
	}
	slices.SortFunc(c.mounts, func(a, b string) int { return len(b) - len(a) })

	if raw := get(setTimeout); raw != "" {
		d, err := time.ParseDuration(raw)
		if n, nerr := strconv.Atoi(raw); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err != nil || d <= 0 {
			return nil, invalid("setting %s: %q is not a duration such as 10s", setTimeout, raw)
		}
		c.timeout = d
	}
	if (c.clientCert == "") != (c.clientKey == "") {
		return nil, invalid("client_cert and client_key go together")
	}
	return c, nil
}

// tlsConfig builds the TLS configuration: the system's roots, or ca_cert's
// certificates; a client certificate when given. Verification is always
// on.
func (c *config) tlsConfig() (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.tlsServerName}
	if c.caCert != "" {
		pem, err := os.ReadFile(c.caCert)
		if err != nil {
			return nil, invalid("setting %s: %v", setCACert, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, invalid("setting %s: %s holds no PEM certificate", setCACert, c.caCert)
		}
		t.RootCAs = pool
	}
	if c.clientCert != "" {
		cert, err := tls.LoadX509KeyPair(c.clientCert, c.clientKey)
		if err != nil {
			return nil, invalid("settings %s and %s: %v", setClientCert, setClientKey, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// newClient returns a Vault client for c that carries no token (every
// request sets its own) and ignores the VAULT_* environment: hive's
// settings are the plugin's only configuration.
func (c *config) newClient() (*api.Client, error) {
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.TLSHandshakeTimeout = 10 * time.Second
	hc := &http.Client{
		Transport: tr,
		// The Vault client follows Vault's redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	client, err := api.NewClient(&api.Config{
		Address:      c.address,
		HttpClient:   hc,
		Timeout:      c.timeout,
		MaxRetries:   1,
		MinRetryWait: 200 * time.Millisecond,
		MaxRetryWait: time.Second,
	})
	if err != nil {
		return nil, invalid("vault client: %v", err)
	}
	client.ClearToken()
	client.ClearNamespace()
	if c.namespace != "" {
		client.SetNamespace(c.namespace)
	}
	return client, nil
}
