package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
)

// noProfileYet are the spec files that catch no defect profile, each with
// the reason. The rule for new checks (DESIGN.md, rule 7): a spec file names
// the profiles it catches (labels.Catches), and a new check lands with the
// profile that proves it can fail; a file lands here only when no vCenter
// behaviour is under its test, or when the spec can read that behaviour only
// where the integration reads it (a profile would fool both alike).
var noProfileYet = map[string]string{
	"desktop/dashboard.go": "kubernetes-dashboard in the cluster: no vCenter behaviour under test",
	"desktop/metallb.go":   "MetalLB's address pools: no vCenter behaviour under test",
	"cpi/loadbalancer.go":  "load balancer Services are MetalLB's on this target, not vCenter's (NSX-T is not simulated)",
	"cpi/nodes.go":         "the spec reads the VM's UUID, guest IPs and hardware through the same vim25 properties the CPI reads: a profile that falsifies them fools both alike",
	"cpi/zones.go":         "the spec reads zone tags through the same vAPI call the CPI makes (ListAttachedTags on the host's chain): a profile that falsifies it fools both alike",
	"cpi/subnets.go":       "the CPI's choice among a VM's guest IPs is its own; no vCenter answer to falsify",
	"cpi/scale.go":         "a measurement of CPI initialisation; its checks are those of cpi/lifecycle.go",
	"csi/cost.go":          "a measurement of calls; its assertions (one CNS create and one delete per claim) test the driver, not a vCenter answer",
	"csi/data_startup.go":  "a measurement; its checks are those of data_provisioning.go",
	"migration/app.go":     "re-applying a manifest checks the driver's idempotency, not a vCenter answer",
	// Open work: checks that no profile proves yet.
	"csi/attach_limit.go": "no profile yet: its checks are the scheduler's and CSINode's; attach defects are caught by provisioning and topology",
	"csi/data_rwx.go":     "no profile yet: file-share-read-only is caught by rwx.go from the share's permissions; the hermetic target has no NFS data path (fileVolumeMounts) to run this spec",
}

// catchesCalls finds the profile names of every labels.Catches call in the
// suites' spec files, by file (relative to suites/), and the files with
// specs.
func catchesCalls(t *testing.T) (byFile map[string][]string, specFiles []string) {
	t.Helper()
	files, err := filepath.Glob("../../suites/*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	byFile = map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		rel, _ := filepath.Rel("../../suites", f)
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		hasSpec := false
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				if fn.Name == "It" {
					hasSpec = true
				}
			case *ast.SelectorExpr:
				if x, ok := fn.X.(*ast.Ident); ok && x.Name == "labels" && fn.Sel.Name == "Catches" {
					for _, a := range call.Args {
						lit, ok := a.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							t.Errorf("%s: labels.Catches takes profile names as string literals, so that this test can read them", fset.Position(a.Pos()))
							continue
						}
						name, _ := strconv.Unquote(lit.Value)
						byFile[rel] = append(byFile[rel], name)
					}
				}
			}
			return true
		})
		if hasSpec {
			specFiles = append(specFiles, rel)
		}
	}
	sort.Strings(specFiles)
	return byFile, specFiles
}

// TestSpecFilesNameTheirProfiles: every spec file names the defect
// profiles it catches, each an existing profile, and every profile has a
// catcher.
func TestSpecFilesNameTheirProfiles(t *testing.T) {
	byFile, specFiles := catchesCalls(t)
	caught := map[string]bool{}
	for _, f := range specFiles {
		names := byFile[f]
		reason, exempt := noProfileYet[f]
		switch {
		case len(names) == 0 && !exempt:
			t.Errorf("suites/%s has specs but names no defect profile it catches (labels.Catches); add the profile that proves its checks can fail", f)
		case len(names) > 0 && exempt:
			t.Errorf("suites/%s catches %v: drop it from noProfileYet (%s)", f, names, reason)
		}
		for _, n := range names {
			if err := defects.Check(n); err != nil {
				t.Errorf("suites/%s: %v", f, err)
			}
			caught[n] = true
		}
	}
	for f := range noProfileYet {
		if _, ok := byFile[f]; !ok && !contains(specFiles, f) {
			t.Errorf("noProfileYet names suites/%s, which has no specs", f)
		}
	}
	for _, n := range defects.Names() {
		if !caught[n] {
			t.Errorf("defect profile %s: no spec names it in labels.Catches, so selftest misses it", n)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
