package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
)

// Every bad input is rejected before anything starts (no bring-up, no
// connection, no spec), with one line and exit code 2. The checks of the
// flags live here; the target config's are in target.Config.Validate.

// maxProcs bounds --procs: each process is a whole vsconform against the
// same target.
const maxProcs = 64

// check validates run's flags, in the order a user reads them, before
// runSuites touches anything. It creates --results-dir (unless a dry run,
// which writes nothing) so that a run cannot end unable to write its report.
func (o *runOptions) check() error {
	switch o.target {
	case "hermetic", "existing":
	default:
		return usageErr("--target %q: want hermetic or existing", o.target)
	}
	if err := labels.Validate(o.labelFilter); err != nil {
		return usageErr("%v", err)
	}
	o.labelFilter = labels.WithoutFindings(o.labelFilter)
	if err := checkRegexps("--focus", o.focus); err != nil {
		return err
	}
	if err := checkRegexps("--skip", o.skip); err != nil {
		return err
	}
	if err := checkPositive("--timeout", o.timeout); err != nil {
		return err
	}
	if o.leakCheck == "" {
		o.leakCheck = "spec" // commands that build runOptions themselves (sonobuoy run)
	}
	if o.leakCheck != "spec" && o.leakCheck != "run" {
		return usageErr("--leak-check %q: want spec or run", o.leakCheck)
	}
	if o.procs < 1 || o.procs > maxProcs {
		return usageErr("--procs %d: want 1 to %d", o.procs, maxProcs)
	}
	if o.runID != "" {
		if err := checkRunID(o.runID); err != nil {
			return err
		}
	}
	if o.target == "hermetic" {
		if o.config != "" {
			return usageErr("--config is for --target existing; the hermetic target writes its own")
		}
		if _, err := stack.ParseWith(o.with); err != nil {
			return usageErr("%v", err)
		}
		if err := checkModel(o.model); err != nil {
			return err
		}
	} else {
		if o.model != "" || len(o.with) > 0 {
			return usageErr("--model and --with are for --target hermetic: they shape the hermetic target a run starts")
		}
	}
	if o.dryRun {
		return nil
	}
	if err := ensureWritableDir("--results-dir", o.resultsDir); err != nil {
		return err
	}
	if o.sonobuoyTarball != "" {
		if err := checkOutputFile("--sonobuoy-tarball", o.sonobuoyTarball); err != nil {
			return err
		}
	}
	return nil
}

// checkRegexps compiles each --focus/--skip expression as Ginkgo will
// (it panics on a bad one).
func checkRegexps(flag string, exprs []string) error {
	for _, e := range exprs {
		if _, err := regexp.Compile(e); err != nil {
			var re *syntax.Error
			if errors.As(err, &re) {
				return usageErr("%s %q: not a regular expression: %s", flag, e, re.Code)
			}
			return usageErr("%s %q: not a regular expression: %v", flag, e, err)
		}
	}
	return nil
}

// checkPositive rejects durations that would end a run before it starts.
func checkPositive(flag string, d time.Duration) error {
	if d <= 0 {
		return usageErr("%s %s: want a duration > 0, e.g. 30m or 2h", flag, d)
	}
	return nil
}

// checkRunID keeps a run ID what `vsconform cleanup --run-id` accepts: a
// label value, so also one path element under --results-dir.
func checkRunID(id string) error {
	if errs := validation.IsValidLabelValue(id); len(errs) > 0 {
		return usageErr("--run-id %q: want at most %d letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
			id, validation.LabelValueMaxLength)
	}
	return nil
}

// checkModel parses and validates a --model file, as the bring-up would
// only after checking its binaries.
func checkModel(path string) error {
	if path == "" {
		return nil
	}
	if fi, err := os.Stat(path); err != nil {
		return usageErr("--model %s: %s", path, fileReason(err))
	} else if fi.IsDir() {
		return usageErr("--model %s: is a directory; want a vcsim model YAML file", path)
	}
	if _, err := stack.LoadModel(path); err != nil {
		return usageErr("--model %s: %s", path, strings.TrimPrefix(errorLine(err.Error()), "model: "))
	}
	return nil
}

// checkPorts checks sim up's --vcenter-port and --apiserver-port: in range,
// not the same, and free on loopback now.
func checkPorts(ports ...namedPort) error {
	seen := map[int]string{}
	for _, p := range ports {
		if p.port == 0 {
			continue
		}
		if p.port < 0 || p.port > 65535 {
			return usageErr("%s %d: want a TCP port 1-65535 (0: a free one)", p.flag, p.port)
		}
		if other, ok := seen[p.port]; ok {
			return usageErr("%s %d: the same port as %s", p.flag, p.port, other)
		}
		seen[p.port] = p.flag
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
		if err != nil {
			return usageErr("%s %d: 127.0.0.1:%d is already in use", p.flag, p.port, p.port)
		}
		l.Close()
	}
	return nil
}

type namedPort struct {
	flag string
	port int
}

// ensureWritableDir creates dir if needed and proves a file can be made in
// it.
func ensureWritableDir(flag, dir string) error {
	if dir == "" {
		return usageErr("%s: must not be empty", flag)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return usageErr("%s %s: not a directory", flag, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageErr("%s %s: cannot create it: %s", flag, dir, pathReason(err))
	}
	f, err := os.CreateTemp(dir, ".vsconform-write-check-*")
	if err != nil {
		return usageErr("%s %s: not writable: %s", flag, dir, pathReason(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkOutputFile checks that a file can be written at path later: its
// directory exists and path is no directory.
func checkOutputFile(flag, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usageErr("%s %s: is a directory; want a file name", flag, path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return usageErr("%s %s: no directory %s: %s", flag, path, dir, pathReason(err))
	case !fi.IsDir():
		return usageErr("%s %s: %s is not a directory", flag, path, dir)
	}
	return nil
}

// fileReason is why a file cannot be used, without the path the message
// already names.
func fileReason(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// pathReason is an *os.PathError's cause with its path ("mkdir /a: not a
// directory"), anything else as is.
func pathReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// groupCommands makes every command that only groups others (sim, desktop,
// sonobuoy, completion) reject an unknown subcommand with exit 2 instead of
// printing its help and exiting 0; alone, it still prints its help.
func groupCommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		groupCommands(sub)
	}
	if !c.HasParent() || c.Runnable() || !c.HasSubCommands() {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// ansiEscape matches terminal escape sequences (colours, cursor moves).
var ansiEscape = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])`)

// errorLine makes any message fit the one-line error contract: no terminal
// escapes (an error line carries no colour, terminal or not), no other
// control characters, one line.
func errorLine(msg string) string {
	msg = ansiEscape.ReplaceAllString(msg, "")
	// Cobra's "Did you mean this?" suggestions, on one line.
	if head, sugg, ok := strings.Cut(msg, "\n\nDid you mean this?\n"); ok {
		msg = head + " (did you mean " + strings.Join(strings.Fields(sugg), " or ") + "?)"
	}
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, l)
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// withHTTPS gives a bare host[:port] the scheme govc and the config
// loader default to.
func withHTTPS(raw string) string {
	if strings.Contains(raw, "://") {
		return raw
	}
	return "https://" + raw
}
