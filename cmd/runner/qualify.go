package main

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// qualification gathers what the run qualified: the versions the target
// reports (API server, vCenter About, the integration's images) and, on the
// hermetic target, the pinned binaries it runs, read from their Go build
// info, never from a list of ours.
func qualification(ctx context.Context, t *target.Target, sim *stack.State) *reports.Qualified {
	v := t.Versions(ctx)
	q := &reports.Qualified{
		Vsconform:    version,
		Kubernetes:   v.Kubernetes,
		VCenter:      v.VCenter,
		VCenterBuild: v.VCenterBuild,
		Capabilities: t.Config.Capabilities.Declared(),
		Unknown:      v.Errors,
	}
	for _, c := range v.Components {
		q.Components = append(q.Components, reports.Component{Name: c.Name, Version: c.Version, Source: c.Source})
	}
	if sim != nil {
		q.Defect = sim.Defect
		cs, errs := binaryComponents(sim.BinDir)
		for i, c := range cs {
			if from, ok := sim.Replaced[c.Name]; ok {
				cs[i].Source = "replaced (--with " + c.Name + "=" + from + "): " + c.Source
			}
		}
		q.Components = append(q.Components, cs...)
		q.Unknown = append(q.Unknown, errs...)
	}
	return q
}

// binaryComponents describes each upstream Go binary in dir: the module
// that provides its main package, that module's version, and the binary's
// SHA-256.
func binaryComponents(dir string) ([]reports.Component, []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []string{"hermetic binaries: " + err.Error()}
	}
	var out []reports.Component
	var errs []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			continue // a folder; a symlink counts by its target (sim up --with)
		}
		bi, err := buildinfo.ReadFile(path)
		if err != nil || strings.HasPrefix(bi.Path, "github.com/vsphere-conformance/") {
			continue // not a Go binary, or one of ours
		}
		mod, ver := bi.Main.Path, bi.Main.Version
		for _, d := range bi.Deps {
			if bi.Path == d.Path || strings.HasPrefix(bi.Path, d.Path+"/") {
				mod, ver = d.Path, d.Version
				if d.Replace != nil {
					ver += " => " + d.Replace.Path + " " + d.Replace.Version
				}
				break
			}
		}
		sum, err := fileSHA256(path)
		if err != nil {
			errs = append(errs, e.Name()+": "+err.Error())
			continue
		}
		out = append(out, reports.Component{Name: e.Name(), Version: ver,
			Source: "binary " + mod + " (" + bi.GoVersion + "), sha256 " + sum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errs
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// attachChecked adds to each spec the vCenter objects it looked at (CNS
// volumes, FCDs, VMs' disks), as evidence shown with every result.
func attachChecked(run *reports.Run) {
	for i := range run.Specs {
		if lines := target.Checked(run.Specs[i].Name); len(lines) > 0 {
			run.Specs[i].Evidence = append(run.Specs[i].Evidence, reports.Evidence{Kind: reports.EvidenceVCenter,
				Title: "vCenter objects checked", Body: strings.Join(lines, "\n")})
		}
	}
}
