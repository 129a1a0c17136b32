package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

func TestPlanFrom(t *testing.T) {
	spec := func(text string, state types.SpecState, msg string) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state,
			Failure: types.Failure{Message: msg}}
	}
	r := types.Report{SpecReports: types.SpecReports{
		spec("b gated and declared", types.SpecStateSkipped, target.DryRunWouldRun),
		spec("a missing a capability", types.SpecStateSkipped, "target lab does not declare capability dataPath"),
		spec("c filtered out", types.SpecStateSkipped, ""),
		spec("d ungated, failed on a nil client", types.SpecStatePanicked, "runtime error: invalid memory address"),
		spec("e pending", types.SpecStatePending, ""),
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
	}}
	p := planFrom(r)
	if p.total != 5 || p.run != 2 || p.skipped != 2 || p.filtered != 1 {
		t.Errorf("counts %+v", p)
	}
	var got []string
	for _, s := range p.specs {
		got = append(got, s.action+" "+s.name+" | "+s.reason)
	}
	want := []string{
		"run b gated and declared | ",
		"run d ungated, failed on a nil client | ",
		"skip a missing a capability | target lab does not declare capability dataPath",
		"skip e pending | pending",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunDryRun: --dry-run lists what a filter and the declared
// capabilities select, with skip reasons, and contacts nothing: the
// kubeconfig and vCenter of the existing target point at a closed port.
func TestRunDryRun(t *testing.T) {
	bin := vsconform(t)
	work := t.TempDir()
	kube := filepath.Join(work, "kubeconfig")
	os.WriteFile(kube, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"+
		"contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n"), 0o600)
	pw := filepath.Join(work, "pw")
	os.WriteFile(pw, []byte("canary-pw-123\n"), 0o600)
	cfg := filepath.Join(work, "lab.yaml")
	os.WriteFile(cfg, []byte("apiVersion: vsconform.io/v1alpha1\nkind: Target\nname: lab\nkubeconfig: "+kube+"\n"+
		"vcenter: {url: https://127.0.0.1:1/sdk, username: admin, passwordFile: "+pw+"}\n"+
		"capabilities: {blockVolumes: true, snapshots: true}\n"), 0o600)

	out, code := runCLI(t, bin, "run", "--dry-run", "--target", "existing", "--config", cfg, "--label-filter", "csi && snapshot")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"dry run against target lab (not contacted)",
		"run   [csi, snapshot] Snapshots of a block volume becomes ready",
		"skip  [csi, snapshot, data] Data in a snapshot of a block volume restores the bytes of the snapshot's moment, not those written after it: target lab does not declare capability dataPath",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "canary-pw-123") || strings.Contains(out, "SUCCESS") {
		t.Errorf("dry run printed a secret or Ginkgo's own summary:\n%s", out)
	}

	// The hermetic target: the capabilities `sim up` would declare for the
	// default model, nothing started.
	state := filepath.Join(work, "nostate")
	out, code = runCLI(t, bin, "run", "--dry-run", "--state-dir", state, "--label-filter", "csi && data")
	if code != 0 || !strings.Contains(out, "of the default model (not started)") ||
		!strings.Contains(out, "run   [csi, provisioning, data] Data on a dynamically provisioned block volume") ||
		!strings.Contains(out, "does not declare capability fileVolumeMounts") {
		t.Errorf("hermetic dry run, exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("a dry run created the state directory %s", state)
	}
	if out, code := runCLI(t, bin, "run", "--dry-run", "--procs", "2"); code != 2 {
		t.Errorf("--dry-run --procs 2: exit %d:\n%s", code, out)
	}
}

// Shell completion offers the target kinds and the known labels.
func TestRunFlagCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "run", "--target", ""}, []string{"hermetic", "existing"}},
		{[]string{"__complete", "run", "--label-filter", ""}, []string{"csi", "snapshot", "data"}},
		{[]string{"__complete", "ru"}, []string{"run"}},
	} {
		root := newRootCommand()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(c.args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		lines := strings.Split(out.String(), "\n")
		for _, w := range c.want {
			if !slices.Contains(lines, w) && !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w+"\t") }) {
				t.Errorf("%v: no completion %q in:\n%s", c.args, w, out.String())
			}
		}
	}
}
