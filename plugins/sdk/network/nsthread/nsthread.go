// Package nsthread runs code inside another network namespace, for
// network plugins and for hive's own per-task parts (the resolver's
// sockets): a Linux thread, not a process, has a network namespace, so the
// code runs on a goroutine locked to its OS thread that enters the
// namespace and leaves it again.
package nsthread

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Run runs fn on a locked OS thread after enter has moved the thread into
// a namespace (netns.Set, or unix.Unshare to make a new one), then moves
// the thread back to the namespace it had. It runs them on a goroutine of
// its own and waits: a thread that cannot go back is never handed back to
// the Go scheduler, and ends with that goroutine.
func Run(enter, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			// Stay locked: the thread dies with this goroutine.
			done <- errors.Join(fnErr, fmt.Errorf("return to the original network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}
