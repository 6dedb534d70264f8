package runtime

import "fmt"

// The Fake's private registry: images that pull only with a credential,
// and a record of the credentials EnsureImage was given, so that a test
// can check that the credential hive delivered reached the runtime.

// RequireAuth puts ref in the Fake's registry as a private image:
// EnsureImage pulls it only when given a credential that applies to the
// image's registry (RegistryAuth.AppliesTo) and whose Username and
// Password, or IdentityToken, are auth's; anything else fails with
// PullDenied's error (wrapping sdk.ErrNotFound). An image pulled already
// needs no credential, as with Docker.
func (f *Fake) RequireAuth(ref string, auth RegistryAuth) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registry[ref] = true
	f.needAuth[ref] = auth
}

// LastPullAuth returns a copy of the credential the last EnsureImage call
// for ref was given, whether that call pulled or not (an image already
// there needs no pull); nil when that call was given none (an anonymous
// pull) or when EnsureImage was not called for ref.
func (f *Fake) LastPullAuth(ref string) *RegistryAuth {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.pullAuth[ref]
	if a == nil {
		return nil
	}
	out := *a
	return &out
}

func (f *Fake) recordAuthLocked(ref string, auth *RegistryAuth) {
	if auth == nil {
		delete(f.pullAuth, ref)
		return
	}
	a := *auth
	f.pullAuth[ref] = &a
}

// checkAuthLocked refuses a pull of a private image (RequireAuth) without
// its credential, as a registry answers 401.
func (f *Fake) checkAuthLocked(ref string, auth *RegistryAuth) error {
	want, private := f.needAuth[ref]
	if !private {
		return nil
	}
	host := ImageRegistry(ref)
	switch {
	case auth == nil || !auth.AppliesTo(host):
		return PullDenied(ref, auth, fmt.Errorf("the fake registry answered 401 Unauthorized: authentication required"))
	case auth.IdentityToken != "" && auth.IdentityToken == want.IdentityToken:
		return nil
	case auth.IdentityToken == "" && auth.Username == want.Username && auth.Password == want.Password:
		return nil
	}
	return PullDenied(ref, auth, fmt.Errorf("the fake registry answered 401 Unauthorized: incorrect username or password"))
}
