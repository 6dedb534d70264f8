//go:build !linux

package agent

import (
	"errors"
	"path/filepath"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// taskFiles needs Linux's tmpfs: elsewhere a task with secrets or configs
// is rejected.
type taskFiles struct {
	root string
}

func (f *taskFiles) dir(taskID string) string { return filepath.Join(f.root, taskID) }

func (f *taskFiles) materialize(string, []taskFile) ([]runtime.Mount, error) {
	return nil, errors.New("secrets and configs need a Linux node (tmpfs)")
}

func (f *taskFiles) release(string) error { return nil }

func (f *taskFiles) tasks() ([]string, error) { return nil, nil }
