package containerd

import (
	"os"
	"testing"
)

// TestMain lets the test binary act as the log copier the runtime starts
// (it re-executes its own executable, which in tests is this binary).
func TestMain(m *testing.M) {
	if dir := os.Getenv(CopierEnv); dir != "" {
		os.Exit(runCopier(dir))
	}
	os.Exit(m.Run())
}
