package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/hiveorch/hive/plugins/sdk"
)

// vaultError turns an error of the Vault client into one of the SDK's
// kinds, prefixed with what was being done (when what is not empty). Vault's answers carry no
// secret values, and request URLs carry no tokens, so the text is safe.
func vaultError(what, address string, err error) error {
	if err == nil {
		return nil
	}
	prefix := ""
	if what != "" {
		prefix = what + ": "
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s%w", prefix, err)
	}
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("%svault at %s is unreachable: %v: %w", prefix, address, err, sdk.ErrUnavailable)
	}
	msg := prefix + answer(re)
	switch code := re.StatusCode; {
	case code == http.StatusBadRequest:
		return fmt.Errorf("%s: %w", msg, sdk.ErrInvalidArgument)
	case code == http.StatusForbidden:
		return fmt.Errorf("%s: %w", msg, errDenied)
	case code == http.StatusNotFound:
		return fmt.Errorf("%s: %w", msg, sdk.ErrNotFound)
	case code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("%s: %w", msg, sdk.ErrUnavailable)
	}
	return errors.New(msg)
}

// answer is Vault's answer in one line: "vault answered 403: permission
// denied".
func answer(re *api.ResponseError) string {
	var parts []string
	for _, e := range re.Errors {
		// Vault sends multi-line errors ("1 error occurred:\n\t* permission
		// denied\n\n"): keep the bullets, on one line.
		for _, line := range strings.Split(e, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
			if line != "" && !multiErrorHead.MatchString(line) {
				parts = append(parts, line)
			}
		}
	}
	msg := strings.Join(parts, "; ")
	if msg == "" {
		msg = http.StatusText(re.StatusCode)
	}
	return fmt.Sprintf("vault answered %d: %s", re.StatusCode, msg)
}

// multiErrorHead is the first line of a go-multierror message.
var multiErrorHead = regexp.MustCompile(`^\d+ errors? occurred:$`)

// errDenied marks Vault's 403: the token is invalid, expired or lacks the
// policy. It is a failed precondition: the operator must act (fix the
// policy or the credentials), then hive's retries succeed.
var errDenied = &deniedError{}

type deniedError struct{}

func (*deniedError) Error() string {
	return "the token is invalid or expired, or its policies do not allow this"
}

func (*deniedError) Unwrap() error        { return sdk.ErrFailedPrecondition }
func (*deniedError) Is(target error) bool { return target == errDenied }

func isDenied(err error) bool { return errors.Is(err, errDenied) }
