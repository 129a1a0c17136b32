package preflight

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

func TestCheckVCenterVersion(t *testing.T) {
	cases := []struct {
		apiType, version, apiVersion string
		want                         string // "" for no finding
		text                         string
	}{
		{"VirtualCenter", "8.0.3", "8.0.3.0", "", ""},
		{"VirtualCenter", "7.0.3", "7.0.3.0", "", ""},
		{"VirtualCenter", "6.7.0", "6.7.3", "", ""},
		{"VirtualCenter", "6.7.0", "6.7.2", "PF001", "needs vCenter 6.7.3"},
		{"VirtualCenter", "6.5.0", "6.5", "PF001", "apiVersion 6.5"},
		{"VirtualCenter", "6.7.0", "", "PF001", "version 6.7.0"}, // no apiVersion: Version
		{"HostAgent", "8.0.3", "8.0.3.0", "PF001", "not a vCenter Server"},
		{"VirtualCenter", "", "", "PF000", "not a version"},
		{"VirtualCenter", "8.0.3", "eight", "PF000", `"eight"`},
	}
	for _, c := range cases {
		t.Run(c.apiType+" "+c.apiVersion, func(t *testing.T) {
			vc := &vim25.Client{ServiceContent: types.ServiceContent{About: types.AboutInfo{
				ApiType: c.apiType, Version: c.version, ApiVersion: c.apiVersion, FullName: "test endpoint",
			}}}
			e := &env{t: &target.Target{VC: &govmomi.Client{Client: vc}}, cfg: &target.Config{}}
			got := checkVCenterVersion(context.Background(), e)
			if c.want == "" {
				if len(got) != 0 {
					t.Errorf("got %v, want no finding", got)
				}
				return
			}
			if len(got) != 1 || got[0].ID != c.want || !strings.Contains(got[0].Message, c.text) {
				t.Errorf("got %v, want one %s mentioning %q", got, c.want, c.text)
			}
		})
	}
}
