package types

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// MaxObjectNameLen bounds the names of secrets and configs, as Docker does.
const MaxObjectNameLen = 64

// objectNameRE is Docker's rule for secret and config names.
var objectNameRE = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

// validateObjectName checks the name of a secret or a config (what):
// letters, digits, '-', '_' and '.', starting and ending with a letter or
// digit, at most 64 characters.
func validateObjectName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a %s name is required", what)
	case len(name) > MaxObjectNameLen:
		return fmt.Errorf("invalid %s name %q: it is %d characters long, at most %d are allowed", what, name, len(name), MaxObjectNameLen)
	case !objectNameRE.MatchString(name):
		return fmt.Errorf("invalid %s name %q: use letters, digits, '-', '_' or '.', starting and ending with a letter or digit", what, name)
	}
	return nil
}

// ValidateSecretName checks a secret name: letters, digits, '-', '_' and
// '.', starting and ending with a letter or digit, at most 64 characters.
func ValidateSecretName(name string) error { return validateObjectName("secret", name) }

// ValidateConfigName checks a config name, by the rules of secret names.
func ValidateConfigName(name string) error { return validateObjectName("config", name) }

// Validate checks a secret's spec.
func (s SecretSpec) Validate() error {
	if err := ValidateSecretName(s.Name); err != nil {
		return err
	}
	if errs := validateLabels("label", s.Labels); len(errs) > 0 {
		return errs[0]
	}
	if s.Driver != nil && s.Driver.Name == "" {
		return fmt.Errorf("secret %s: a driver needs a name (--driver NAME)", s.Name)
	}
	return nil
}

// Validate checks a config's spec.
func (s ConfigSpec) Validate() error {
	if err := ValidateConfigName(s.Name); err != nil {
		return err
	}
	if errs := validateLabels("label", s.Labels); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// ValidateSecretValue checks the size of a secret's value: not empty, at
// most MaxSecretSize bytes. The error never contains the value.
func ValidateSecretValue(name string, v SecretValue) error {
	return validateSize("secret", name, v.Len(), MaxSecretSize)
}

// ValidateConfigData checks the size of a config's data: not empty, at
// most MaxConfigSize bytes.
func ValidateConfigData(name string, data []byte) error {
	return validateSize("config", name, len(data), MaxConfigSize)
}

func validateSize(what, name string, n, limit int) error {
	switch {
	case n == 0:
		return fmt.Errorf("%s %s: the value is empty: give a file with the value, or - to read it from standard input", what, name)
	case n > limit:
		return fmt.Errorf("%s %s: the value is %d bytes, larger than the %d KB a %s may hold", what, name, n, limit/1024, what)
	}
	return nil
}

// validateFile checks a file target's owner and mode.
func validateFile(what string, f FileTarget) []error {
	var errs []error
	for _, id := range []struct{ name, v string }{{"uid", f.UID}, {"gid", f.GID}} {
		if _, err := strconv.ParseUint(id.v, 10, 32); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid %s %q: use a numeric ID such as 0 or 1000", what, id.name, id.v))
		}
	}
	if f.Mode&^0o777 != 0 {
		errs = append(errs, fmt.Errorf("%s: invalid mode %#o: use permission bits only, from 0000 to 0777 (as 0400)", what, uint32(f.Mode)))
	}
	return errs
}

func hasDotDot(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "/../")
}

// validateSecretRefs checks a container's secret references: each names a
// secret, its file is a relative path under /run/secrets with no "..",
// used once.
func validateSecretRefs(refs []SecretReference) []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range refs {
		src := r.SecretName
		if src == "" {
			src = r.SecretID
		}
		what := "secret " + src
		if src == "" {
			errs = append(errs, fmt.Errorf("a secret reference names no secret: use --secret NAME or --secret source=NAME,target=FILE"))
			continue
		}
		if r.SecretName != "" {
			if err := ValidateSecretName(r.SecretName); err != nil {
				errs = append(errs, err)
			}
		}
		t := r.File.Name
		switch {
		case t == "":
			errs = append(errs, fmt.Errorf("%s: the target file is empty: give target=FILE", what))
		case path.IsAbs(t):
			errs = append(errs, fmt.Errorf("%s: invalid target %q: it must be a path relative to %s, such as %s", what, t, SecretsDir, strings.TrimLeft(t, "/")))
		case hasDotDot(t) || path.Clean(t) == ".":
			errs = append(errs, fmt.Errorf("%s: invalid target %q: it must stay inside %s; remove '..'", what, t, SecretsDir))
		}
		clean := path.Clean(t)
		if t != "" && seen[clean] {
			errs = append(errs, fmt.Errorf("%s: target %q is used by another secret of the service: give each secret its own target", what, t))
		}
		seen[clean] = true
		errs = append(errs, validateFile(what, r.File)...)
	}
	return errs
}

// validateConfigRefs checks a container's config references: each names
// a config, its file is an absolute path with no "..", used once.
func validateConfigRefs(refs []ConfigReference) []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range refs {
		src := r.ConfigName
		if src == "" {
			src = r.ConfigID
		}
		what := "config " + src
		if src == "" {
			errs = append(errs, fmt.Errorf("a config reference names no config: use --config NAME or --config source=NAME,target=PATH"))
			continue
		}
		if r.ConfigName != "" {
			if err := ValidateConfigName(r.ConfigName); err != nil {
				errs = append(errs, err)
			}
		}
		t := r.File.Name
		switch {
		case t == "":
			errs = append(errs, fmt.Errorf("%s: the target file is empty: give target=PATH", what))
		case !path.IsAbs(t):
			errs = append(errs, fmt.Errorf("%s: invalid target %q: it must be an absolute path in the container, such as /%s", what, t, t))
		case hasDotDot(t) || path.Clean(t) == "/":
			errs = append(errs, fmt.Errorf("%s: invalid target %q: give a file path without '..'", what, t))
		}
		clean := path.Clean(t)
		if t != "" && seen[clean] {
			errs = append(errs, fmt.Errorf("%s: target %q is used by another config of the service: give each config its own target", what, t))
		}
		seen[clean] = true
		errs = append(errs, validateFile(what, r.File)...)
	}
	return errs
}
