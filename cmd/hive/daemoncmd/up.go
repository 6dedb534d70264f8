package daemoncmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/config"
	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/daemon"
	"github.com/hiveorch/hive/core/errdefs"
)

// logFile is where a detached daemon writes its log, in its data directory.
const logFile = "hive.log"

func upCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "up",
		Short: "Start a hive node (a new single-node cluster, or resume this data directory's)",
		Long: `Start hive on this machine. On a new data directory it creates a cluster of one
manager: a Raft store, a certificate authority, and the built-in runtime
(Docker) and scheduler plugins. On a data directory used before, it resumes
that node and adopts the task containers still running.

The API listens on the endpoint set by -H/--host or HIVE_HOST (default: the
socket hive.sock in the data directory). The cluster port (--listen-addr)
speaks only mutual TLS.

By default hive runs in the foreground until interrupted; with -d it starts in
the background, returns once the API answers, and logs to DATA_DIR/hive.log.
Stopping hive (Ctrl-C or 'hive down') leaves task containers running; the next
'hive up' adopts them without restarting them.

With --autolock, the managers' data-encryption key (which seals secrets) and
the CA key are sealed by an unlock key printed once, here: a manager that
restarts stays locked until 'hive unlock' gives it back (see 'hive cluster
update --autolock' and 'hive unlock-key').`,
		Example: `  hive up -d
  hive up --data-dir /tmp/hive -H unix:///tmp/hive/hive.sock --listen-addr 127.0.0.1:4300
  HIVE_LOG_LEVEL=debug hive up
  hive up -d --autolock`,
		Args: cobra.NoArgs,
		RunE: runUp,
	}
	addDaemonFlags(c.Flags())
	c.Flags().BoolP("detach", "d", false, "start in the background and return once the API answers")
	c.Flags().Bool("autolock", false, "turn autolock on and print the unlock key: a restarted manager stays locked until 'hive unlock'")
	return c
}

func runUp(cmd *cobra.Command, _ []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	autolock, _ := cmd.Flags().GetBool("autolock")
	if detach, _ := cmd.Flags().GetBool("detach"); detach {
		// The child never sees --autolock: the key is printed here, not
		// into its log file.
		if err := startDetached(cmd, cfg, withoutFlag(foregroundArgs(os.Args[1:]), "autolock")); err != nil {
			return err
		}
		if autolock {
			return enableAutolock(cmd, cfg.Host)
		}
		return nil
	}
	var ready chan struct{}
	if autolock {
		ready = make(chan struct{})
		go func() {
			select {
			case <-ready:
			case <-cmd.Context().Done():
				return
			}
			if err := enableAutolock(cmd, cfg.Host); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "Error: autolock: %v\n", err)
			}
		}()
	}
	return runDaemon(cmd, cfg, ready)
}

// enableAutolock turns autolock on through the API at host, riding out the
// first moments of a new cluster, and prints the unlock key.
func enableAutolock(cmd *cobra.Command, host string) error {
	cl, err := client.New(host)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	for {
		k, err := cl.SetAutolock(ctx, true)
		if err == nil {
			out := cmd.OutOrStdout()
			if k.Key == "" {
				fmt.Fprintln(out, "Autolock was already on; 'hive unlock-key' shows the key.")
				return nil
			}
			fmt.Fprintf(out, "Autolock is on. To unlock a manager after it restarts, run 'hive unlock' on it\nand give this key:\n\n    %s\n\nKeep it in a password manager: hive does not show it again unless asked\nwith 'hive unlock-key'.\n", k.Key)
			return nil
		}
		if !errors.Is(err, errdefs.ErrUnavailable) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster did not get ready in time: %w; run 'hive cluster update --autolock=true'", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// withoutFlag drops --name and --name=... from args.
func withoutFlag(args []string, name string) []string {
	var out []string
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// runDaemon runs the node in the foreground until interrupted. ready, when
// not nil, is closed once the API answers.
func runDaemon(cmd *cobra.Command, cfg *config.Config, ready chan struct{}) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the hive binary: %w", err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := daemon.Options{
		Config: cfg, Executable: exe, Builtins: BuiltinNames(), Logger: newLogger(cfg, os.Stderr),
	}
	if ready != nil {
		opts.Ready = ready
	}
	return daemon.Run(ctx, opts)
}

// startDetached runs hive with args (a foreground `hive up`) in a new
// session, its output going to the data directory's log, and waits for
// the API.
func startDetached(cmd *cobra.Command, cfg *config.Config, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the hive binary: %w", err)
	}
	cl, err := client.New(cfg.Host)
	if err != nil {
		return err
	}
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(cmd.Context(), time.Second)
	err = cl.Ping(pctx)
	pcancel()
	if err == nil {
		return fmt.Errorf("a hive is already answering at %s: stop it with 'hive down', or choose another endpoint with -H", cfg.Host)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	logPath := filepath.Join(cfg.DataDir, logFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer logf.Close()
	offset, _ := logf.Seek(0, io.SeekEnd)

	child := exec.Command(exe, args...)
	child.Stdout, child.Stderr = logf, logf
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return fmt.Errorf("start hive in the background: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := cl.Ping(pctx)
		pcancel()
		if err == nil {
			fmt.Fprintf(cmd.OutOrStdout(), "hive is up (pid %d)\n  API:  %s\n  logs: %s\n  stop: hive down\n", child.Process.Pid, cfg.Host, logPath)
			for _, msg := range pluginTrouble(ctx, cl, tick.C) {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+msg)
			}
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("hive exited during start-up (%v):\n%s", werr, logTail(logPath, offset))
		case <-ctx.Done():
			return fmt.Errorf("hive did not answer at %s within 60s; see %s", cfg.Host, logPath)
		case <-tick.C:
		}
	}
}

// pluginTrouble waits, polling at each tick until ctx is done, for the
// plugins of the node to be past starting, and returns what is wrong with
// each unhealthy, restarting or failed one.
func pluginTrouble(ctx context.Context, cl *client.Client, tick <-chan time.Time) []string {
	for {
		plugins, err := cl.Plugins(ctx)
		if err == nil && !slices.ContainsFunc(plugins, func(p api.PluginStatus) bool { return p.State == api.PluginStarting }) {
			var out []string
			for _, p := range plugins {
				if msg := p.Trouble(); msg != "" {
					out = append(out, msg)
				}
			}
			return out
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// foregroundArgs returns the command line without the detach flag.
func foregroundArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if a == "-d" || a == "--detach" || strings.HasPrefix(a, "--detach=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// logTail returns what the log got since offset, at most its last 4 KiB.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return strings.TrimRight(string(b), "\n")
}

func downCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the local hive daemon (task containers keep running)",
		Long: `Ask the hive daemon at -H/HIVE_HOST to stop, and wait until it has. Running task
containers are left alone: they keep serving (except through published ingress
ports, which hive itself answers), and the next 'hive up' on the same data
directory adopts them without restarting them.`,
		Example: `  hive down
  hive down -H unix:///tmp/hive/hive.sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			cl, err := client.New(cfg.Host)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			info, err := cl.Info(ctx)
			if err != nil {
				return err
			}
			if err := cl.Shutdown(ctx); err != nil {
				return err
			}
			// Wait until the daemon is gone: its API first, then, when it
			// runs on this host, its process (which holds the data
			// directory until it exits).
			local := config.SocketPath(cfg.Host) != ""
			for {
				if gone(ctx, cl) && (!local || !processAlive(info.PID)) {
					fmt.Fprintln(cmd.OutOrStdout(), "hive stopped; task containers keep running and are adopted by the next 'hive up'")
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("hive at %s (pid %d) is still running after 60s", cfg.Host, info.PID)
				case <-time.After(20 * time.Millisecond):
				}
			}
		},
	}
}

// gone reports whether the API no longer answers.
func gone(ctx context.Context, cl *client.Client) bool {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var ce *client.ConnError
	return errors.As(cl.Ping(pctx), &ce)
}

// processAlive reports whether a process with that ID exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}
