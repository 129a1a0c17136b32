package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/desktop"
)

type desktopCheckOptions struct {
	platform     string
	root         string
	vmnet        int
	networking   string
	dhcpConf     string
	minikubeHome string
	profile      string
	metallb      []string
	format       string
}

func newDesktopCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "desktop",
		Short: "Checks of the minikube-on-VMware-Workstation/Fusion setup",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newDesktopCheckCommand())
	return cmd
}

func newDesktopCheckCommand() *cobra.Command {
	var o desktopCheckOptions
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Lint this host's VMware network, minikube and MetalLB config (no cluster needed)",
		Long: `Reads the vmnet network config of VMware Workstation (Windows: vmnetdhcp.conf;
Linux: /etc/vmware/networking and vmnetN/dhcpd/dhcpd.conf) or Fusion
(/Library/Preferences/VMware Fusion/networking and vmnetN/dhcpd.conf),
minikube's config and profile, and MetalLB config files, and reports what
would break the demo: node IP outside the vmnet subnet, a MetalLB pool
outside the subnet or overlapping the DHCP range, gateway or node, DHCP
disabled, a driver other than vmware, too few CPUs or too little memory.

--root DIR reads a copy of a host laid out like fixtures/desktop/<platform>/<case>
(home/ is the user's home, ProgramData/ is %ProgramData%, metallb.yaml the
cluster's MetalLB config).

Exit codes: 0 no error findings, 1 at least one error finding, 2 usage error.`,
		Example: `  vsconform desktop check
  vsconform desktop check --metallb pools.yaml --format json
  vsconform desktop check --platform fusion --root fixtures/desktop/fusion/good`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return desktopCheck(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.platform, "platform", "", "workstation-windows, workstation-linux or fusion (default: from the OS)")
	f.StringVar(&o.root, "root", "", "read the files below this directory, laid out like fixtures/desktop/<platform>/<case>")
	f.IntVar(&o.vmnet, "vmnet", desktop.DefaultVMnet, "the vmnet minikube's VM uses (8 is NAT, which the vmware driver uses)")
	f.StringVar(&o.networking, "networking", "", "the networking file (Linux, Fusion)")
	f.StringVar(&o.dhcpConf, "dhcp-conf", "", "vmnetN's dhcpd.conf (Linux, Fusion) or vmnetdhcp.conf (Windows)")
	f.StringVar(&o.minikubeHome, "minikube-home", "", "the .minikube directory (default: $MINIKUBE_HOME or ~/.minikube)")
	f.StringVar(&o.profile, "profile", "", "minikube profile (default: the config's profile, else minikube)")
	f.StringArrayVar(&o.metallb, "metallb", nil, "a MetalLB config file: the config ConfigMap or IPAddressPool YAML (repeatable)")
	f.StringVar(&o.format, "format", "text", "text or json")
	return cmd
}

func desktopCheck(cmd *cobra.Command, o desktopCheckOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageErr("--format %q: want text or json", o.format)
	}
	if o.vmnet < 0 || o.vmnet > 255 {
		return usageErr("--vmnet %d: want 0-255", o.vmnet)
	}
	var platform desktop.Platform
	var err error
	if o.platform != "" {
		platform, err = desktop.ParsePlatform(o.platform)
	} else {
		platform, err = desktop.PlatformFor(runtime.GOOS)
	}
	if err != nil {
		return usageErr("%v", err)
	}

	var opts desktop.Options
	if o.root != "" {
		st, err := os.Stat(o.root)
		if err != nil || !st.IsDir() {
			return usageErr("--root %s: not a directory", o.root)
		}
		opts = desktop.FSOptions(os.DirFS(o.root), platform, o.vmnet)
		// Flags name files on the host, not below root.
		read := opts.ReadFile
		opts.ReadFile = func(name string) ([]byte, error) {
			if filepath.IsAbs(name) {
				return os.ReadFile(name)
			}
			return read(name)
		}
	} else {
		opts = desktop.Options{
			Platform: platform, VMnet: o.vmnet, Paths: desktop.HostPaths(platform, o.vmnet, os.Getenv),
			ReadFile: os.ReadFile, Join: filepath.Join,
		}
	}
	override := func(dst *string, flag string) error {
		if flag == "" {
			return nil
		}
		abs, err := filepath.Abs(flag)
		if err != nil {
			return usageErr("%s: %v", flag, err)
		}
		*dst = abs
		return nil
	}
	for _, ov := range []struct {
		dst  *string
		flag string
	}{{&opts.Paths.Networking, o.networking}, {&opts.Paths.DHCPConf, o.dhcpConf}, {&opts.Paths.MinikubeHome, o.minikubeHome}} {
		if err := override(ov.dst, ov.flag); err != nil {
			return err
		}
	}
	if o.minikubeHome != "" && o.root != "" {
		opts.Join = filepath.Join
	}
	if o.networking != "" && platform == desktop.WorkstationWindows {
		return usageErr("--networking: Workstation for Windows has no networking file (its vmnets are in vmnetdhcp.conf and the registry)")
	}
	opts.Paths.Profile = o.profile
	if len(o.metallb) > 0 {
		opts.Paths.MetalLB, opts.Paths.MetalLBOptional = nil, false
		for _, m := range o.metallb {
			var abs string
			if err := override(&abs, m); err != nil {
				return err
			}
			opts.Paths.MetalLB = append(opts.Paths.MetalLB, abs)
		}
	}

	report := desktop.Check(opts)
	out := cmd.OutOrStdout()
	if o.format == "json" {
		err = report.WriteJSON(out)
	} else {
		err = report.WriteText(out)
	}
	if err != nil {
		return usageErr("writing the report: %v", err)
	}
	if report.HasErrors() {
		return &exitError{code: exitFailed, err: errors.New("the desktop setup has errors")}
	}
	return nil
}
