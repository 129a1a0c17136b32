package sonobuoy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vmware-tanzu/sonobuoy/pkg/client/results"
	"github.com/vmware-tanzu/sonobuoy/pkg/config"
	"github.com/vmware-tanzu/sonobuoy/pkg/discovery"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/driver/job"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/manifest"
	"github.com/vmware-tanzu/sonobuoy/pkg/tarball"
)

// Tarball packages a finished run folder (junit.xml, the reports, the
// logs) as the results tarball Sonobuoy's aggregator makes for a run of this
// plugin, so `sonobuoy results` and Sonobuoy dashboards read hermetic and
// real-vCenter runs alike:
//
//	meta/config.json, meta/info.json
//	plugins/<name>/definition.json
//	plugins/<name>/results/global/<the run folder>
//	plugins/<name>/sonobuoy_results.yaml  (Sonobuoy's post-processing)
//
// It returns the post-processed result tree.
func Tarball(runDir, out, name, runID string) (*results.Item, error) {
	if name == "" {
		name = DefaultPluginName
	}
	if _, err := os.Stat(filepath.Join(runDir, ResultsFile)); err != nil {
		return nil, fmt.Errorf("sonobuoy tarball: %s: no %s", runDir, ResultsFile)
	}
	stage, err := os.MkdirTemp("", "vsconform-sonobuoy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)

	pluginDir := filepath.Join(stage, results.PluginsDir, name)
	if err := copyTree(runDir, filepath.Join(pluginDir, results.ResultsDir, "global")); err != nil {
		return nil, fmt.Errorf("sonobuoy tarball: %v", err)
	}

	// The same steps as the aggregator at the end of a run.
	p := job.NewPlugin(manifest.Manifest{SonobuoyConfig: localConfig(name)}, config.DefaultNamespace, "", "", "", nil)
	item, errs := results.PostProcessPlugin(p, stage)
	if len(errs) > 0 {
		return nil, fmt.Errorf("sonobuoy tarball: post-processing: %v", errors.Join(errs...))
	}
	if err := results.SaveProcessedResults(name, stage, item); err != nil {
		return nil, fmt.Errorf("sonobuoy tarball: %v", err)
	}
	if err := writeJSON(filepath.Join(pluginDir, "definition.json"), p); err != nil {
		return nil, err
	}
	cfg := config.New()
	cfg.UUID, cfg.Description = runID, "vsconform run "+runID
	if err := writeJSON(filepath.Join(stage, "meta", "config.json"), cfg); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(stage, "meta", results.InfoFile), discovery.RunInfo{LoadedPlugins: []string{name}}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("sonobuoy tarball: %v", err)
	}
	if err := tarball.DirToTarball(stage, out, true); err != nil {
		return nil, fmt.Errorf("sonobuoy tarball: %v", err)
	}
	return &item, nil
}

// localConfig is the plugin's sonobuoy-config, as `sonobuoy gen` writes it.
func localConfig(name string) manifest.SonobuoyConfig {
	return manifest.SonobuoyConfig{
		Driver: "Job", PluginName: name, ResultFormat: "junit", ResultFiles: []string{ResultsFile},
		Description: "vsphere-conformance run outside Sonobuoy", SourceURL: SourceURL,
	}
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sonobuoy tarball: %s: %v", filepath.Base(path), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sonobuoy tarball: %v", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case !info.Mode().IsRegular():
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		outf, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(outf, in); err != nil {
			outf.Close()
			return err
		}
		return outf.Close()
	})
}
