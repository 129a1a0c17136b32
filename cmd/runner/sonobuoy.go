package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/sonobuoy"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

func newSonobuoyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sonobuoy",
		Short: "Run vsconform in the cluster as a Sonobuoy plugin",
	}
	cmd.AddCommand(newSonobuoyGenCommand(), newSonobuoyRunCommand())
	return cmd
}

func newSonobuoyGenCommand() *cobra.Command {
	var o sonobuoy.PluginOptions
	var configPath, vcenterURL string
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Print the Sonobuoy plugin definition that runs the suites in the cluster",
		Long: `Print a Sonobuoy plugin definition (Job driver, junit results) that runs
'vsconform sonobuoy run' in the cluster under test. The target config travels in
the plugin's config-map, rewritten for the pod: the service account instead of a
kubeconfig, the vCenter password (and CA, if the config names one) read from the
Secret given with --secret, keys "password", "ca.pem" and optionally "username".
The Secret must exist in Sonobuoy's namespace; the plugin YAML holds no credential.`,
		Example: `  vsconform sonobuoy gen --image registry.example.com/vsconform:v1 --config target.yaml \
    --secret vsconform-vcenter --label-filter 'csi && !scale' > vsconform.yaml
  kubectl create namespace sonobuoy
  kubectl -n sonobuoy create secret generic vsconform-vcenter --from-file=password=./vcenter-password
  sonobuoy run --plugin vsconform.yaml --skip-preflight existingnamespace --wait
  sonobuoy results "$(sonobuoy retrieve)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := labels.Validate(o.LabelFilter); err != nil {
				return usageErr("%v", err)
			}
			if err := checkPositive("--timeout", o.Timeout); err != nil {
				return err
			}
			if configPath == "" {
				return usageErr("--config is required: the target config the plugin runs against")
			}
			// Strict decoding catches typos before they reach a cluster.
			cfg, err := target.LoadConfig(configPath, func(string) string { return "" })
			if err != nil {
				return usageErr("%v", err)
			}
			raw, err := os.ReadFile(configPath)
			if err != nil {
				return usageErr("target config: %v", err)
			}
			if o.Config, err = sonobuoy.PluginConfig(raw, vcenterURL); err != nil {
				return usageErr("%s: %v", configPath, err)
			}
			// The URL the pod will use, checked here rather than in the cluster.
			switch {
			case vcenterURL != "":
				if err := target.CheckVCenterURL(withHTTPS(vcenterURL)); err != nil {
					return usageErr("--vcenter-url: %v", err)
				}
			case cfg.VCenter.URL == "":
				return usageErr("%s: vcenter.url is not set and there is no --vcenter-url: the plugin pod has no GOVC_URL", configPath)
			default:
				if err := target.CheckVCenterURL(cfg.VCenter.URL); err != nil {
					return usageErr("%s: target config: vcenter.url: %v", configPath, err)
				}
			}
			out, err := sonobuoy.Generate(o)
			if err != nil {
				return usageErr("%v", err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Image, "image", "", "the vsconform image (see Dockerfile)")
	f.StringVar(&configPath, "config", "", "target config YAML; must not hold the vCenter password")
	f.StringVar(&o.Secret, "secret", "", "name of the Secret with the vCenter credentials (keys password, optional username and ca.pem)")
	f.StringVar(&o.LabelFilter, "label-filter", "", "Ginkgo label filter for the in-cluster run, e.g. 'csi && !scale'")
	f.StringVar(&vcenterURL, "vcenter-url", "", "vCenter's URL as the plugin pod reaches it (default: the config's vcenter.url)")
	f.StringToStringVar(&o.NodeSelector, "node-selector", nil, "run the plugin pod only on nodes with these labels, e.g. kubernetes.io/hostname=node-1")
	f.StringVar(&o.Name, "plugin-name", sonobuoy.DefaultPluginName, "Sonobuoy plugin name")
	f.DurationVar(&o.Timeout, "timeout", time.Hour, "overall timeout of the in-cluster run")
	return cmd
}

func newSonobuoyRunCommand() *cobra.Command {
	o := runOptions{target: "existing", procs: 1}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Plugin mode: run the suites inside a Sonobuoy plugin pod",
		Long: `Run the suites as a Sonobuoy plugin (the command 'sonobuoy gen' puts in the
plugin). It reads the target config from $SONOBUOY_CONFIG_DIR/target.yaml, reaches
Kubernetes with the pod's service account, writes junit.xml, report.json and
report.html into a run folder under $SONOBUOY_RESULTS_DIR, posts progress to the
worker sidecar at 127.0.0.1:$SONOBUOY_PROGRESS_PORT/progress (default 8099) as
specs finish, and last writes the run folder's path into $SONOBUOY_RESULTS_DIR/done.
If the run cannot start, the done file points at a junit.xml with one failed
"[setup]" case that says why.

Exit codes: as for run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlugin(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "target config YAML (default: $SONOBUOY_CONFIG_DIR/target.yaml)")
	f.StringVar(&o.labelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'csi && !scale'")
	f.StringArrayVar(&o.focus, "focus", nil, "run only specs whose text matches this regular expression (repeatable)")
	f.StringArrayVar(&o.skip, "skip", nil, "skip specs whose text matches this regular expression (repeatable)")
	f.DurationVar(&o.timeout, "timeout", time.Hour, "overall timeout of the run")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print each spec's steps and output")
	return cmd
}

// pluginMode is what runSuites does differently inside a Sonobuoy plugin.
type pluginMode struct {
	resultsDir string
	progress   *sonobuoy.Progress
}

func (p *pluginMode) observer() specObserver {
	if p == nil {
		return nil
	}
	return p.progress
}

func runPlugin(cmd *cobra.Command, o runOptions) error {
	resultsDir := os.Getenv("SONOBUOY_RESULTS_DIR")
	if resultsDir == "" {
		return usageErr("SONOBUOY_RESULTS_DIR is not set: 'sonobuoy run' runs inside a Sonobuoy plugin pod; elsewhere use 'vsconform run'")
	}
	resultsDir, err := filepath.Abs(resultsDir)
	if err != nil {
		return usageErr("%v", err)
	}
	err = func() error {
		if o.config == "" {
			dir := os.Getenv("SONOBUOY_CONFIG_DIR")
			if dir == "" {
				return usageErr("--config is not set and neither is SONOBUOY_CONFIG_DIR")
			}
			o.config = filepath.Join(dir, sonobuoy.ConfigFile)
		}
		progress, err := sonobuoy.NewProgress(os.Getenv("SONOBUOY_PROGRESS_PORT"), cmd.ErrOrStderr())
		if err != nil {
			return usageErr("%v", err)
		}
		o.resultsDir, o.plugin = resultsDir, &pluginMode{resultsDir: resultsDir, progress: progress}
		return runSuites(cmd, o, &simPaths{})
	}()
	var ee *exitError
	if errors.As(err, &ee) && ee.code == exitUsage {
		if _, statErr := os.Stat(filepath.Join(resultsDir, sonobuoy.DoneFile)); os.IsNotExist(statErr) {
			if werr := reportSetupFailure(resultsDir, ee.err); werr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "vsconform: cannot report the failure to Sonobuoy: %v\n", werr)
			}
		}
	}
	return err
}

// reportSetupFailure hands Sonobuoy a junit.xml whose one failed case says
// why the run could not start, so `sonobuoy results` shows the reason
// instead of an empty plugin.
func reportSetupFailure(resultsDir string, cause error) error {
	now := time.Now()
	dir := filepath.Join(resultsDir, "vsconform-setup")
	run := reports.Run{ID: "setup", Target: "sonobuoy", StartedAt: now, FinishedAt: now, Specs: []reports.Spec{{
		Suite: "vsconform", Name: "[setup] the run can start", State: reports.StateFailed, StartedAt: now,
		Failure: &reports.Failure{Message: cause.Error()},
	}}}
	if err := reports.Write(dir, run, reports.NewRedactor()); err != nil {
		return err
	}
	return sonobuoy.WriteDone(resultsDir, dir)
}

// finishSonobuoy runs after the reports are written: it packages the run as
// a Sonobuoy results tarball (--sonobuoy-tarball) and, in plugin mode, hands
// the run folder to the worker.
func finishSonobuoy(cmd *cobra.Command, o runOptions, dir, runID string) error {
	if o.sonobuoyTarball != "" {
		item, err := sonobuoy.Tarball(dir, o.sonobuoyTarball, "", runID)
		if err != nil {
			return usageErr("%v", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "sonobuoy results: %s (plugin %s: %s)\n", o.sonobuoyTarball, item.Name, item.Status)
	}
	if o.plugin != nil {
		abs, err := filepath.Abs(dir)
		if err == nil {
			err = sonobuoy.WriteDone(o.plugin.resultsDir, abs)
		}
		if err != nil {
			return usageErr("sonobuoy done file: %v", err)
		}
	}
	return nil
}
