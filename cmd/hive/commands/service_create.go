package commands

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hiveorch/hive/core/types"
)

func (c *cli) serviceCreateCommand() *cobra.Command {
	var detach, quiet, withAuth bool
	cmd := &cobra.Command{
		Use:   "create [flags] IMAGE [COMMAND] [ARG...]",
		Short: "Create a service",
		Long: `Create a service that runs IMAGE. COMMAND and ARGs replace the image's CMD;
--entrypoint replaces its ENTRYPOINT.

Every flag is checked before anything is sent. Unless --detach is given,
hive shows the tasks' progress until the service converges: every task
running, and the same tasks still running a second later. It gives up, and
exits 1 with the reason, when a task is rejected (a missing image, say), a
task cannot be scheduled for 3 seconds, or one slot's task failed 3 times;
the service stays created, so look with 'hive service ps NAME'.`,
		Example: `  hive service create --name web --replicas 3 -p 8080:80 nginx:alpine
  hive service create --name db --mount type=volume,source=data,target=/var/lib/postgresql/data \
      -e POSTGRES_PASSWORD=secret --constraint node.role==manager postgres:16
  hive service create --name api --secret db_password --secret source=tls_key,target=tls/key.pem,mode=0400 \
      --config source=api.yaml,target=/etc/api/config.yaml hive-test/api:v1
  hive service create --name agent --mode global --limit-memory 256m busybox top
  hive service create -d --name job --restart-condition none alpine sh -c 'echo hi'
  docker login registry.example.com && hive service create --with-registry-auth --name app registry.example.com/team/app:1`,
		Args: minArgs(1, "an IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := createSpec(cmd.Flags(), args, c.lookupEnv)
			if err != nil {
				return err
			}
			if withAuth {
				if spec.RegistryAuth, err = c.registryAuth(spec.Task.Container.Image); err != nil {
					return err
				}
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			svc, err := cl.CreateService(cmd.Context(), spec)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), svc.ID)
			if detach {
				return nil
			}
			return c.waitConverged(cmd.Context(), cl, svc, nil, waitOptions{verb: "created", quiet: quiet, out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().SetInterspersed(false)
	addSpecFlags(cmd.Flags(), "create")
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the service is created, without waiting for it to converge")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the service ID, no progress")
	cmd.Flags().BoolVar(&withAuth, "with-registry-auth", false, withRegistryAuthUsage)
	return cmd
}

// serviceNameRE is the shape of a service name: a DNS label, since tasks
// are reached by it, with '_' allowed.
var serviceNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$`)

// createSpec checks every flag and argument and builds the service spec.
// It sends nothing; its errors say what to fix.
func createSpec(fs *pflag.FlagSet, args []string, lookup func(string) (string, bool)) (types.ServiceSpec, error) {
	s := types.ServiceSpec{Replicas: 1}
	if err := applySpecFlags(fs, "create", &s, lookup); err != nil {
		return s, err
	}
	if err := setImage(specEdit{s: &s}, args[0]); err != nil {
		return s, err
	}
	if len(args) > 1 {
		s.Task.Container.Args = append([]string(nil), args[1:]...)
	}
	return s, nil
}

// parseReplicas parses a count (replicas, attempts, parallelism), which
// must be 0 or more; what names it in the error.
func parseReplicas(what, value string) (uint64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %s: want a whole number, 0 or more", what, value)
	}
	if n < 0 {
		return 0, fmt.Errorf("invalid %s %d: must be 0 or more", what, n)
	}
	return uint64(n), nil
}
