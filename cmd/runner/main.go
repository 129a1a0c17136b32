// Command vsconform runs the vsphere-conformance suites against the hermetic
// target (vcsim + a real Kubernetes control plane + the real vSphere CSI
// driver and CPI) or an existing vCenter and cluster, and writes JUnit, JSON
// and HTML reports.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

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
	os.Exit(runMain(newRootCommand, os.Args[1:], os.Stdout, os.Stderr))
}

// runMain runs the command line and returns the exit code. Every error is
// one line on stderr, "vsconform: <what>: <why>", without terminal escapes.
// A panic, the last line of defence (bad input is a usage error, never a
// crash), becomes one line and exit 2 too; its stack goes to a file for
// the bug report.
func runMain(newRoot func() *cobra.Command, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			where := ""
			if f, err := os.CreateTemp("", "vsconform-panic-*.txt"); err == nil {
				fmt.Fprintf(f, "vsconform %s: panic: %v\n\n%s", version, r, debug.Stack())
				f.Close()
				where = " and " + f.Name()
			}
			fmt.Fprintf(stderr, "vsconform: internal error: %s (a bug in vsconform, not in your input: please report it with the command line%s)\n",
				errorLine(fmt.Sprint(r)), where)
			code = exitUsage
		}
	}()
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitPassed
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.code != exitFailed {
			fmt.Fprintln(stderr, "vsconform: "+errorLine(ee.err.Error()))
		}
		return ee.code
	}
	// Cobra's own errors: unknown flag or command.
	fmt.Fprintln(stderr, "vsconform: "+errorLine(err.Error()))
	return exitUsage
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
	root.AddCommand(newRunCommand(), newSimCommand(), newReportCommand(), newVersionCommand(), newSonobuoyCommand(), newDesktopCommand(), newAuditCommand(), newPreflightCommand(), newCleanupCommand(), newSoakCommand(), newSelftestCommand())
	// The completion command exists from here on (cobra would add it only in
	// Execute), so that groupCommands sees it too.
	root.InitDefaultCompletionCmd()
	groupCommands(root)
	return root
}
