package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of vsconform and of the components it pins",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "vsconform %s\n", version)
			if bi, ok := debug.ReadBuildInfo(); ok {
				fmt.Fprintf(out, "go %s\n", bi.GoVersion)
				for _, d := range bi.Deps {
					if d.Path == "github.com/vmware/govmomi" || d.Path == "github.com/onsi/ginkgo/v2" || d.Path == "k8s.io/client-go" {
						fmt.Fprintf(out, "%s %s\n", d.Path, d.Version)
					}
				}
			}
		},
	}
}
