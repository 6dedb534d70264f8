package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

func (c *cli) serviceUpdateCommand() *cobra.Command {
	var rollback, detach, quiet, withAuth bool
	cmd := &cobra.Command{
		Use:   "update [flags] SERVICE",
		Short: "Update a service",
		Long: `Change a service's spec; what a flag does not mention keeps its current value
(the defaults shown are those of service create). A change of what its tasks run (image, environment,
mounts, secrets, configs, ports, limits, health check, --force) is rolled out as a rolling
update: --update-parallelism slots at a time (1; 0 for all at once), each
new task running, and healthy when it has a health check, before the next
slot after --update-delay; stop-first stops a slot's old task before its
new one starts, start-first starts the new one first. A new task that fails
within --update-monitor of its start counts as a failure; past
--update-max-failure-ratio of the tasks, the update does its
--update-failure-action: pause (the default), continue, or rollback to the
previous spec. A change of the replicas, the labels or the update policy
replaces no task.

A --X-add replaces what has the same key: the variable of the same name, the
mount at the same target, the grant to the same file, the port published on
the same port; a --X-rm is applied before the --X-add.

Unless --detach is given, progress is shown until the update completes; the
command exits 1 with the reason if the update pauses or rolls back. A
paused update resumes with any change, or --force.

--with-registry-auth sends the credential 'docker login' stored for the
image's registry; a new credential replaces the old one without replacing a
task (the next pull uses it).`,
		Example: `  hive service update --image hive-test/web:v2 web
  hive service update --image hive-test/web:v2 --update-order start-first --update-parallelism 2 web
  hive service update --env-add LEVEL=debug --env-rm OLD web
  hive service update --secret-rm db_password_v1 --secret-add source=db_password_v2,target=db_password api
  hive service update --config-add source=nginx.conf,target=/etc/nginx/nginx.conf web
  hive service update --update-failure-action rollback --update-monitor 10s --image app:2 api
  hive service update --force web`,
		Args: exactArgs(1, "a SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rollback {
				if changed := changedBesidesRollback(cmd.Flags()); changed != "" {
					return usageErrorf(cmd, "--rollback cannot be combined with --%s: it restores the previous spec as it was", changed)
				}
				return c.rollback(cmd, args[0], detach, quiet)
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			svc, err := updateWithRetry(cmd.Context(), cl, args[0], func(spec *types.ServiceSpec) error {
				if err := applySpecFlagsResolving(cmd.Flags(), "update", spec, c.lookupEnv, networkResolver(cmd.Context(), cl)); err != nil || !withAuth {
					return err
				}
				var err error
				spec.RegistryAuth, err = c.registryAuth(spec.Task.Container.Image)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), svc.Spec.Name)
			if detach {
				return nil
			}
			return c.waitUpdated(cmd.Context(), cl, svc, waitOptions{verb: "updated", quiet: quiet, out: cmd.OutOrStdout()})
		},
	}
	addSpecFlags(cmd.Flags(), "update")
	cmd.Flags().BoolVar(&rollback, "rollback", false, "go back to the previous spec, as hive service rollback")
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the change is stored, without following the update")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	cmd.Flags().BoolVar(&withAuth, "with-registry-auth", false, withRegistryAuthUsage+"; without it the service keeps the credential it has")
	return cmd
}

// changedBesidesRollback names a flag given with --rollback that changes
// the spec, or returns "".
func changedBesidesRollback(fs *pflag.FlagSet) string {
	name := ""
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "rollback", "detach", "quiet", "host", "config", "tls-dir":
		default:
			if name == "" {
				name = f.Name
			}
		}
	})
	return name
}

// updateWithRetry reads a service, changes its spec with change and writes
// it with the version read; when the service changed meanwhile (a version
// conflict: the update controller writes its progress there), it reads it
// again and retries.
func updateWithRetry(ctx context.Context, cl *client.Client, ref string, change func(*types.ServiceSpec) error) (*types.Service, error) {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		svc, err := cl.GetService(ctx, ref)
		if err != nil {
			return nil, err
		}
		spec := svc.Spec.Copy()
		if err := change(&spec); err != nil {
			return nil, err
		}
		updated, err := cl.UpdateService(ctx, svc.ID, svc.Version, spec)
		if errors.Is(err, errdefs.ErrVersionConflict) && attempt < attempts {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update %s: %w", ref, err)
		}
		return updated, nil
	}
}

func (c *cli) serviceRollbackCommand() *cobra.Command {
	var detach, quiet bool
	cmd := &cobra.Command{
		Use:   "rollback [flags] SERVICE",
		Short: "Go back to a service's previous spec",
		Long: `Put a service back on the spec it had before its last update (the previous
spec, which hive service inspect shows) and roll its tasks back, with the
rollback policy (--rollback-* of service create and update). The spec rolled
away from becomes the previous one, so a second rollback goes forward again.
A rollback can be paused by failures (--rollback-failure-action) but is never
rolled back itself.

Unless --detach is given, progress is shown until the rollback completes.`,
		Example: `  hive service rollback web
  hive service rollback -d web`,
		Args: exactArgs(1, "a SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.rollback(cmd, args[0], detach, quiet)
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the rollback started, without following it")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	return cmd
}

// rollback starts a rollback of ref and follows it unless detach.
func (c *cli) rollback(cmd *cobra.Command, ref string, detach, quiet bool) error {
	cl, err := c.api()
	if err != nil {
		return err
	}
	svc, err := cl.RollbackService(cmd.Context(), ref)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), svc.Spec.Name)
	if detach {
		return nil
	}
	return c.waitUpdated(cmd.Context(), cl, svc, waitOptions{verb: "rolled back", quiet: quiet, out: cmd.OutOrStdout()})
}
