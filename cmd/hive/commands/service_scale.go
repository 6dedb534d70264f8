package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/errdefs"
	"github.com/hiveorch/hive/core/types"
)

// scaleTarget is one SERVICE=REPLICAS argument.
type scaleTarget struct {
	ref      string
	replicas uint64
}

// parseScaleArgs checks every SERVICE=REPLICAS argument before anything
// is sent.
func parseScaleArgs(args []string) ([]scaleTarget, error) {
	out := make([]scaleTarget, 0, len(args))
	for _, a := range args {
		ref, n, ok := strings.Cut(a, "=")
		if !ok || ref == "" || n == "" {
			return nil, fmt.Errorf("invalid scale argument %q: want SERVICE=REPLICAS, as in web=5", a)
		}
		replicas, err := parseReplicas("replica count for "+ref+":", n)
		if err != nil {
			return nil, err
		}
		out = append(out, scaleTarget{ref: ref, replicas: replicas})
	}
	return out, nil
}

func (c *cli) serviceScaleCommand() *cobra.Command {
	var detach bool
	cmd := &cobra.Command{
		Use:   "scale SERVICE=REPLICAS [SERVICE=REPLICAS...]",
		Short: "Scale one or more replicated services",
		Long: `Set the number of tasks of replicated services. Each service is read and
updated with the version read, so a change made meanwhile is not lost (the
update is retried once if the service changed). A global service cannot be
scaled. Unless --detach is given, progress is shown until each service
converges.`,
		Example: `  hive service scale web=5
  hive service scale web=5 api=2
  hive service scale -d worker=0`,
		Args: minArgs(1, "one SERVICE=REPLICAS argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := parseScaleArgs(args)
			if err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			type scaled struct {
				svc    *types.Service
				ignore map[string]bool
				verb   string
			}
			var (
				done []scaled
				errs []error
			)
			for _, t := range targets {
				ignore, svc, err := scaleService(ctx, cl, t)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(out, "%s scaled to %d\n", t.ref, t.replicas)
				done = append(done, scaled{svc: svc, ignore: ignore, verb: fmt.Sprintf("scaled to %d", t.replicas)})
			}
			if !detach {
				for _, s := range done {
					if len(done) > 1 {
						fmt.Fprintf(out, "%s:\n", s.svc.Spec.Name)
					}
					if err := c.waitConverged(ctx, cl, s.svc, s.ignore, waitOptions{verb: s.verb, out: out}); err != nil {
						errs = append(errs, err)
					}
				}
			}
			return errorOf(errs)
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the services are updated, without waiting for them to converge")
	return cmd
}

// scaleService sets one service's replica count with the version it read,
// retrying once when the service changed meanwhile. It returns the tasks
// that had ended before the change, and the updated service.
func scaleService(ctx context.Context, cl *client.Client, t scaleTarget) (map[string]bool, *types.Service, error) {
	for attempt := 0; ; attempt++ {
		svc, err := cl.GetService(ctx, t.ref)
		if err != nil {
			return nil, nil, err
		}
		if svc.Spec.Mode == types.ModeGlobal {
			return nil, nil, fmt.Errorf("%s: scale can only be used with replicated mode", t.ref)
		}
		ignore, err := endedTasks(ctx, cl, svc.ID)
		if err != nil {
			return nil, nil, err
		}
		spec := svc.Spec.Copy()
		spec.Replicas = t.replicas
		updated, err := cl.UpdateService(ctx, svc.ID, svc.Version, spec)
		if errors.Is(err, errdefs.ErrVersionConflict) && attempt == 0 {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("scale %s: %w", t.ref, err)
		}
		return ignore, updated, nil
	}
}
