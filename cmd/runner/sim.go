package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
	"github.com/vsphere-conformance/vsphere-conformance/sim/node"
	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
)

func newSimCommand() *cobra.Command {
	var paths simPaths
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Manage the hermetic target: vcsim + Kubernetes + the real vSphere CSI driver and CPI, on loopback",
	}
	paths.addFlags(cmd)
	cmd.AddCommand(newSimUpCommand(&paths), newSimDownCommand(&paths), newSimStatusCommand(&paths),
		newSimVCenterCommand(), newSimForwardCommand(), newSimRegistrarCommand(), newSimSonobuoyImagesCommand(&paths))
	return cmd
}

// signalContext ends when the user interrupts, so a bring-up stops cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newSimUpCommand(paths *simPaths) *cobra.Command {
	var o stack.Options
	var with []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the hermetic target and write its target config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(stack.CPIConfigForms, o.CPIConfigForm) {
				return usageErr("--cpi-config-form %q: want %s", o.CPIConfigForm, strings.Join(stack.CPIConfigForms, " or "))
			}
			var err error
			if o.With, err = stack.ParseWith(with); err != nil {
				return usageErr("%v", err)
			}
			if o.Defect != "" {
				if err := defects.Check(o.Defect); err != nil {
					return usageErr("--defect: %v", err)
				}
			}
			// The model and the ports, before anything starts.
			if err := checkModel(o.Model); err != nil {
				return err
			}
			if err := checkPorts(namedPort{"--vcenter-port", o.VCenterPort}, namedPort{"--apiserver-port", o.APIServerPort}); err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			s, err := simUp(ctx, paths, o, cmd)
			if err != nil {
				return err
			}
			printWhere(cmd, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "vcsim inventory model YAML (default: the embedded fixtures/vcsim/hermetic.yaml)")
	cmd.Flags().StringVar(&o.Defect, "defect", "", "start the simulated vCenter with a defect profile, a negative control (vsconform selftest --list names them)")
	cmd.RegisterFlagCompletionFunc("defect", cobra.FixedCompletions(defects.Names(), cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().IntVar(&o.VCenterPort, "vcenter-port", 0, "loopback port of the vCenter simulator (default: a free port)")
	cmd.Flags().IntVar(&o.APIServerPort, "apiserver-port", 0, "loopback port of kube-apiserver (default: a free port)")
	cmd.Flags().StringVar(&o.CPIConfigForm, "cpi-config-form", stack.CPIConfigYAML,
		"form of the CPI's cloud config: yaml or ini (the legacy form); credentials come from a Secret either way")
	addWithFlag(cmd, &with)
	return cmd
}

// addWithFlag is --with NAME=PATH: a build of one's own in place of a
// pinned binary, for `sim up` and `run`.
func addWithFlag(cmd *cobra.Command, with *[]string) {
	cmd.Flags().StringArrayVar(with, "with", nil, "run your own build instead of a pinned binary, NAME=PATH (repeatable), e.g. vsphere-csi=./bin/vsphere-csi")
	cmd.RegisterFlagCompletionFunc("with", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, n := range stack.Replaceable() {
			out = append(out, n+"=")
		}
		return out, cobra.ShellCompDirectiveNoSpace
	})
}

func simUp(ctx context.Context, paths *simPaths, o stack.Options, cmd *cobra.Command) (*stack.State, error) {
	self, err := paths.resolve()
	if err != nil {
		return nil, usageErr("%v", err)
	}
	o.Dir, o.BinDir, o.Self, o.Out = paths.stateDir, paths.binDir, self, cmd.ErrOrStderr()
	fmt.Fprintf(cmd.ErrOrStderr(), "starting the hermetic target in %s\n", o.Dir)
	start := time.Now()
	s, err := stack.Up(ctx, o)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "hermetic target up in %s\n", time.Since(start).Round(100*time.Millisecond))
	return s, nil
}

func printWhere(cmd *cobra.Command, s *stack.State) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "target config: %s\n", s.TargetConfig)
	fmt.Fprintf(out, "kubeconfig:    %s\n", s.Kubeconfig)
	fmt.Fprintf(out, "vCenter:       %s (user %s, password in %s)\n", s.VCenter.URL, s.VCenter.Username, s.VCenter.PasswordFile)
	fmt.Fprintf(out, "logs:          %s/logs\n", s.Dir)
}

func newSimDownCommand(paths *simPaths) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop everything the hermetic target started and remove its state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := paths.resolve(); err != nil {
				return usageErr("%v", err)
			}
			start := time.Now()
			if err := stack.Down(paths.stateDir); err != nil {
				if errors.Is(err, stack.ErrNotRunning) {
					fmt.Fprintln(cmd.ErrOrStderr(), "nothing to stop: "+err.Error())
					return nil
				}
				return usageErr("sim down: %v", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "hermetic target stopped in %s\n", time.Since(start).Round(10*time.Millisecond))
			return nil
		},
	}
}

func newSimStatusCommand(paths *simPaths) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each component's health and log file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := paths.resolve(); err != nil {
				return usageErr("%v", err)
			}
			s, health, err := stack.Status(cmd.Context(), paths.stateDir)
			if err != nil {
				return usageErr("sim status: %v", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s, started %s, target config %s\n", s, s.StartedAt.Format(time.RFC3339), s.TargetConfig)
			if s.CPIConfigForm != "" {
				fmt.Fprintf(out, "CPI cloud config: %s form\n", s.CPIConfigForm)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMPONENT\tHEALTHY\tDETAIL\tLOG")
			unhealthy := 0
			for _, h := range health {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", h.Component, h.Healthy, h.Detail, h.Log)
				if !h.Healthy {
					unhealthy++
				}
			}
			tw.Flush()
			if unhealthy > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d component(s) unhealthy", unhealthy)}
			}
			return nil
		},
	}
}

// newSimForwardCommand is the relay component of the hermetic target (see
// sim/forward); `sim up` runs it, users do not.
func newSimForwardCommand() *cobra.Command {
	var rules []string
	var ready string
	var loUp bool
	var localIPs []string
	var nodeUUID, nodeStash string
	cmd := &cobra.Command{
		Use:    "forward",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			if err := stack.ServeForward(ctx, rules, ready, loUp, localIPs, nodeUUID, nodeStash); err != nil {
				return usageErr("%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&rules, "rule", nil, "FROM=TO, each tcp:127.0.0.1:PORT or unix:PATH")
	cmd.Flags().StringVar(&ready, "ready-file", "", "file written once every listener is open")
	cmd.Flags().BoolVar(&loUp, "lo-up", false, "bring the loopback interface up first (in a new network namespace)")
	cmd.Flags().StringArrayVar(&localIPs, "local-ip", nil, "with --lo-up: add this IPv4 address to lo, so rules may listen on it (repeatable)")
	cmd.Flags().StringVar(&nodeUUID, "node-uuid", "", "hold a real node's namespaces: shape its mounts, with this BIOS UUID as its DMI identity")
	cmd.Flags().StringVar(&nodeStash, "node-stash", "", "empty directory for the host views a node holder binds back")
	return cmd
}

// newSimRegistrarCommand is a real node's CSI node driver registrar.
func newSimRegistrarCommand() *cobra.Command {
	var socket, endpoint, driver string
	cmd := &cobra.Command{
		Use:    "registrar",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			r := &node.Registrar{Driver: driver, Endpoint: endpoint, Log: cmd.ErrOrStderr()}
			if err := node.ServeRegistrar(ctx, r, socket); err != nil {
				return usageErr("%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "registration socket in the kubelet's plugins_registry")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "the CSI driver's socket")
	cmd.Flags().StringVar(&driver, "driver", stack.DriverName, "the CSI driver's name")
	return cmd
}

// newSimVCenterCommand is the vCenter simulator component; `sim up` runs it.
func newSimVCenterCommand() *cobra.Command {
	var o stack.VCenterOptions
	cmd := &cobra.Command{
		Use:    "vcenter",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			if err := stack.ServeVCenter(ctx, o); err != nil {
				return usageErr("%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Model, "model", "", "model YAML (default: embedded)")
	cmd.Flags().StringVar(&o.Addr, "addr", "127.0.0.1:0", "loopback address to serve on")
	cmd.Flags().StringVar(&o.PasswordFile, "password-file", "", "file holding the login password")
	cmd.Flags().StringVar(&o.InfoFile, "info-file", "", "file written with the endpoint once serving")
	cmd.Flags().StringVar(&o.CAFile, "ca-file", "", "file written with the server certificate (PEM)")
	cmd.Flags().StringArrayVar(&o.CertIPs, "cert-ip", nil, "another IP address the server certificate names (repeatable)")
	cmd.Flags().StringVar(&o.DiskDir, "disk-dir", "", "directory for FCD backing files and loop devices of real nodes (needs root; empty: no disk bytes)")
	cmd.Flags().StringVar(&o.FaultsAddr, "faults-addr", "", "loopback address of the fault-injection admin endpoint (empty: none)")
	cmd.Flags().StringVar(&o.FaultsTokenFile, "faults-token-file", "", "file holding the fault endpoint's bearer token")
	cmd.Flags().StringVar(&o.StateDir, "state-dir", "", "the stack's state directory, for the endpoint's component control (empty: none)")
	cmd.Flags().StringVar(&o.Defect, "defect", "", "defect profile to run with (sim/defects; empty: none)")
	return cmd
}

// newSimSonobuoyImagesCommand loads what `sonobuoy run` needs into the real
// nodes of the running target.
func newSimSonobuoyImagesCommand(paths *simPaths) *cobra.Command {
	return &cobra.Command{
		Use:   "sonobuoy-images",
		Short: "Build the vsconform plugin and Sonobuoy images and import them into the target's real nodes",
		Long: `Build two images as OCI archives, this vsconform (the plugin, /vsconform) and the
pinned sonobuoy (aggregator and worker, /sonobuoy), and import them into the
containerd of every real node of the running hermetic target: it has no registry.
Prints the two image references and the vCenter URL as pods see it, for
'vsconform sonobuoy gen --image ... --vcenter-url ...' and
'sonobuoy run --sonobuoy-image ...'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := paths.resolve()
			if err != nil {
				return usageErr("%v", err)
			}
			refs, err := stack.LoadSonobuoyImages(cmd.Context(), paths.stateDir, self, version)
			if err != nil {
				return usageErr("sim sonobuoy-images: %v", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "vsconform image: %s\n", refs.Vsconform)
			fmt.Fprintf(out, "sonobuoy image:  %s\n", refs.Sonobuoy)
			fmt.Fprintf(out, "vCenter for pods: %s\n", stack.PodVCenterURL)
			return nil
		},
	}
}
