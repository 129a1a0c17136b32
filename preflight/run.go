package preflight

import (
	"context"
	"errors"
	"fmt"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// check is one prerequisite check: it returns its findings, and a
// not-run finding (RuleCheckNotRun) for what it could not read.
type check struct {
	name string
	run  func(ctx context.Context, e *env) []Finding
}

// checks run in this order; the inventory they share is read once (env).
var checks = []check{
	{"vcenter version", checkVCenterVersion},
	{"node VMs", checkNodeVMs},
	{"disk.EnableUUID", checkDiskEnableUUID},
	{"VM hardware version", checkHardwareVersion},
	{"SCSI controllers", checkSCSIControllers},
	{"storage policies", checkStoragePolicies},
	{"datastore URLs", checkDatastoreURLs},
	{"privileges", checkPrivileges},
	{"tag categories", checkTagCategories},
}

// Run checks t's environment against the documented prerequisites of the
// vSphere CSI driver and CPI. It never fails: what it cannot read is a
// finding like any other. Findings are sorted by severity, then ID.
func Run(ctx context.Context, t *target.Target) Report {
	var r Report
	if t == nil || t.Config == nil {
		r.Findings = []Finding{notRun("preflight", "", errors.New("no target config"))}
		return r
	}
	e := &env{t: t, cfg: t.Config}
	for _, c := range checks {
		r.Findings = append(r.Findings, runCheck(ctx, e, c)...)
	}
	r.sort()
	return r
}

// runCheck runs one check; a panic in it (a nil the check did not expect
// from a partly built Target, say) becomes a not-run finding, so the other
// checks still run.
func runCheck(ctx context.Context, e *env, c check) (out []Finding) {
	defer func() {
		if p := recover(); p != nil {
			out = append(out, notRun(c.name, "", fmt.Errorf("internal error: %v", p)))
		}
	}()
	return c.run(ctx, e)
}
