// Command vsconform runs the vsphere-conformance suites against the hermetic
// target (vcsim + a real Kubernetes control plane + the real vSphere CSI
// driver and CPI) or an existing vCenter and cluster, and writes JUnit, JSON
// and HTML reports.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, as documented in the README.
const (
	exitPassed = 0
	exitFailed = 1
	exitUsage  = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// usageErr marks a usage, config or connection error (exit 2).
func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func main() {
	root := newRootCommand()
	err := root.Execute()
	if err == nil {
		os.Exit(exitPassed)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.code != exitFailed {
			fmt.Fprintln(os.Stderr, "vsconform: "+ee.err.Error())
		}
		os.Exit(ee.code)
	}
	// Cobra's own errors: unknown flag or command.
	fmt.Fprintln(os.Stderr, "vsconform: "+err.Error())
	os.Exit(exitUsage)
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "vsconform",
		Short: "Conformance and scale tests for the vSphere integrations of Kubernetes",
		Long: `vsconform checks the vSphere CSI driver, the vSphere cloud provider, VCP->CSI
migration and load balancers on both sides: what Kubernetes shows and what
vCenter shows. It runs against a hermetic target (vcsim with the real
upstream components, the default) or an existing vCenter and cluster.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCommand(), newSimCommand(), newReportCommand(), newVersionCommand(), newSonobuoyCommand(), newDesktopCommand(), newAuditCommand(), newPreflightCommand())
	return root
}
