package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hiveorch/hive/core/api"
	"github.com/hiveorch/hive/core/api/client"
	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/internal/suggest"
)

// networkScope is what docker's SCOPE column says of a network every node
// of the cluster shares.
const networkScope = "swarm"

func (c *cli) networkCommand() *cobra.Command {
	cmd := groupCommand("network", "Manage overlay networks: services on one network reach each other by name",
		"  hive network create --subnet 10.20.0.0/24 front\n  hive service create --name web --network front nginx:alpine\n  hive network ls",
		c.networkCreateCommand(), c.networkLsCommand(), c.networkInspectCommand(), c.networkRmCommand(), c.networkPruneCommand())
	cmd.Long = `Manage networks. A network is one subnet across every node of the cluster (the
overlay driver: a VXLAN segment). The tasks of the services attached to it
(hive service create --network NAME) get an address of its subnet, and each
service a virtual IP on it that its name resolves to from the other tasks
of the network.`
	return cmd
}

func (c *cli) networkCreateCommand() *cobra.Command {
	var (
		spec         types.NetworkSpec
		labels, opts []string
	)
	cmd := &cobra.Command{
		Use:   "create [flags] NAME",
		Short: "Create a network",
		Long: `Create a network named NAME and print its ID. Without --subnet the managers
give it a free subnet of the cluster's default pool (10.0.0.0/8 in /24s
unless the config's networks.default_pool and networks.default_size say
otherwise); a --subnet given must overlap no other network's. The gateway is
the subnet's first address unless --gateway names another; tasks and virtual
IPs take their addresses from --ip-range, by default the whole subnet.

Names are letters, digits, '-', '_' and '.', starting and ending with a letter
or digit, at most 64 characters.`,
		Example: `  hive network create front
  hive network create --subnet 10.20.0.0/16 --gateway 10.20.0.1 --ip-range 10.20.1.0/24 back
  hive network create --internal --label team=data db`,
		Args: exactArgs(1, "a network NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Name = args[0]
			var err error
			if spec.Labels, err = parseLabels(labels); err != nil {
				return err
			}
			if spec.Options, err = parseOptions(opts); err != nil {
				return err
			}
			spec.Normalize()
			if err := spec.Validate(); err != nil {
				return err
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			n, err := cl.CreateNetwork(cmd.Context(), spec)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), n.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&spec.Driver, "driver", "d", types.DefaultNetworkDriver, "network `DRIVER`: "+strings.Join(types.KnownNetworkDrivers, " or "))
	f.StringVar(&spec.Subnet, "subnet", "", "the network's subnet, a `CIDR` such as 10.20.0.0/16 (default: a free one of the pool)")
	f.StringVar(&spec.Gateway, "gateway", "", "the subnet's gateway `IP` (default: its first address); needs --subnet")
	f.StringVar(&spec.IPRange, "ip-range", "", "give tasks and virtual IPs addresses of `CIDR`, inside the subnet (default: all of it); needs --subnet")
	f.BoolVar(&spec.Attachable, "attachable", false, "let standalone containers attach to the network")
	f.BoolVar(&spec.Internal, "internal", false, "give the network no route out of the cluster")
	f.StringArrayVarP(&labels, "label", "l", nil, "set a label: `KEY=VALUE`")
	f.StringArrayVarP(&opts, "opt", "o", nil, "set a driver option: `KEY=VALUE`")
	return cmd
}

// parseOptions parses --opt KEY=VALUE values.
func parseOptions(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("invalid --opt %q: use KEY=VALUE", v)
		}
		out[k] = val
	}
	return out, nil
}

// networks describes networks to the commands they share with secrets and
// configs.
var networks = storedKind[*types.Network]{
	noun:   "network",
	list:   (*client.Client).ListNetworks,
	get:    (*client.Client).GetNetwork,
	remove: (*client.Client).RemoveNetwork,
	meta: func(n *types.Network) storedMeta {
		return storedMeta{ID: n.ID, Name: n.Spec.Name, Driver: n.Spec.Driver, Labels: n.Spec.Labels, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
	},
	columns: []storedColumn[*types.Network]{
		{"NETWORK ID", func(n *types.Network, _ time.Time) string { return truncID(n.ID) }},
		{"NAME", func(n *types.Network, _ time.Time) string { return n.Spec.Name }},
		{"DRIVER", func(n *types.Network, _ time.Time) string { return n.Spec.Driver }},
		{"SCOPE", func(*types.Network, time.Time) string { return networkScope }},
		{"SUBNET", func(n *types.Network, _ time.Time) string { return n.Subnet.String() }},
	},
	noValue: true,
	prettyBefore: func(out io.Writer, n *types.Network) {
		fmt.Fprintf(out, "Driver:          %s\nScope:           %s\nSubnet:          %s\nGateway:         %s\nIP range:        %s\nVXLAN ID:        %d\nAttachable:      %t\nInternal:        %t\n",
			n.Spec.Driver, networkScope, n.Subnet, n.Gateway, n.IPRange, n.VNI, n.Spec.Attachable, n.Spec.Internal)
		if len(n.Spec.Options) > 0 {
			fmt.Fprintln(out, "Options:")
			for _, k := range sortedKeys(n.Spec.Options) {
				fmt.Fprintf(out, " - %s=%s\n", k, n.Spec.Options[k])
			}
		}
	},
	usedBy: servicesOn,
}

// servicesOn names the services attached to network n, sorted.
func servicesOn(n *types.Network, services []api.ServiceSummary) []string {
	var out []string
	for _, s := range services {
		for _, att := range s.Service.Spec.Networks {
			if att.Target == n.ID {
				out = append(out, s.Service.Spec.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func (c *cli) networkLsCommand() *cobra.Command {
	return networks.lsCommand(c, `List the networks of the cluster, with the subnet each got.`, `  hive network ls
  hive network ls -q
  hive network ls --format json`)
}

func (c *cli) networkInspectCommand() *cobra.Command {
	return networks.inspectCommand(c, &cobra.Command{
		Use:   "inspect [flags] NETWORK [NETWORK...]",
		Short: "Show the details of one or more networks",
		Long: `Show the details of networks: a JSON array by default, or a summary with
--pretty that also names the services attached. Both show what the managers
allocated: the subnet, the gateway, the range addresses come from and the
VXLAN ID. A network is named by its name, ID or a unique prefix of its ID.`,
		Example: `  hive network inspect front
  hive network inspect --pretty front back`,
	}, "print a summary for people, with the services attached, instead of JSON")
}

func (c *cli) networkRmCommand() *cobra.Command {
	return networks.rmCommand(c, `Remove networks. A network that services use is not removed: the error names
them; take them off it first with 'hive service update --network-rm NAME
SERVICE' (or remove them). Each removed network is printed as given.`, `  hive network rm front
  hive network rm $(hive network ls -q)`)
}

// errPruneCancelled is the answer to a prune the user did not confirm.
var errPruneCancelled = errors.New("network prune cancelled: nothing was removed (give -f to skip the question)")

func (c *cli) networkPruneCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove every network no service uses",
		Long: `Remove every network that no service is attached to, after asking for
confirmation (unless -f is given), and print the names of those removed.`,
		Example: `  hive network prune
  hive network prune -f`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				fmt.Fprint(cmd.ErrOrStderr(), "WARNING! This will remove all networks not used by at least one service.\nAre you sure you want to continue? [y/N] ")
				if !confirmed(cmd.InOrStdin()) {
					return errPruneCancelled
				}
			}
			cl, err := c.api()
			if err != nil {
				return err
			}
			names, err := cl.PruneNetworks(cmd.Context())
			if err != nil {
				return err
			}
			if len(names) > 0 {
				out := cmd.OutOrStdout()
				fmt.Fprintln(out, "Deleted Networks:")
				for _, n := range names {
					fmt.Fprintln(out, n)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// confirmed reads one line from r and reports whether it says yes.
func confirmed(r io.Reader) bool {
	line, _ := bufio.NewReader(r).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// parseNetworkAttachment reads a --network value (flag names the flag as
// given): NAME, or the long form name=NAME,alias=A,alias=B (target= is
// name='s other spelling, as in Docker).
func parseNetworkAttachment(flag, value string) (types.NetworkAttachmentConfig, error) {
	var att types.NetworkAttachmentConfig
	bad := func(format string, args ...any) (types.NetworkAttachmentConfig, error) {
		return types.NetworkAttachmentConfig{}, fmt.Errorf("invalid %s %q: %s", flag, value, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(value) == "" {
		return bad("give a network name, or name=NETWORK,alias=ALIAS")
	}
	if !strings.ContainsAny(value, "=,") {
		att.Target = value
		return att, nil
	}
	fields, err := csvFields(value)
	if err != nil {
		return bad("%v", err)
	}
	known := []string{"name", "target", "alias"}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || val == "" {
			return bad("field %q has no value: write KEY=VALUE, as in name=NETWORK", field)
		}
		switch key {
		case "name", "target":
			if att.Target != "" {
				return bad("it names two networks (%s and %s): give one --network per network", att.Target, val)
			}
			att.Target = val
		case "alias":
			att.Aliases = append(att.Aliases, val)
		default:
			return bad("unknown field %q%s (known: name/target, alias)", key, suggest.DidYouMean(key, known...))
		}
	}
	if att.Target == "" {
		return bad("name the network with name=NETWORK")
	}
	return att, nil
}

// networkResolver resolves a network's name, ID or ID prefix to its ID
// through cl, for applySpecFlagsResolving.
func networkResolver(ctx context.Context, cl *client.Client) func(string) (string, error) {
	return func(ref string) (string, error) {
		n, err := cl.GetNetwork(ctx, ref)
		if err != nil {
			return "", err
		}
		return n.ID, nil
	}
}

// networkNames maps the ID of every network to its name, for showing the
// networks a service is attached to.
func networkNames(ctx context.Context, cl *client.Client) (map[string]string, error) {
	list, err := cl.ListNetworks(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(list))
	for _, n := range list {
		names[n.ID] = n.Spec.Name
	}
	return names, nil
}
